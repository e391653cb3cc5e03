//! Fuzz the pstore parsers: the input is a record file (under several
//! names: plain, still-compressed, efi part, console) and, separately, a
//! ramoops memory image with a fixed layout. Decoding and reassembly run
//! with a 1 MiB inflate cap so memory stays bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pstore::ramoops::{parse_region, RamoopsLayout};
use pstore::{reassemble_with_cap, EfiVarName, Record, RecordName};

const CAP: usize = 1 << 20;

const LAYOUT: RamoopsLayout = RamoopsLayout {
    mem_size: 0x4000,
    record_size: 0x1000,
    console_size: 0x1000,
    ftrace_size: 0x800,
    pmsg_size: 0x800,
    ecc: 0,
    ftrace_cpus: 2,
};

fuzz_target!(|data: &[u8]| {
    // The first line doubles as a name to parse.
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let name = String::from_utf8_lossy(&first[..first.len().min(128)]);
    let _ = RecordName::parse(&name);
    let _ = EfiVarName::parse(&name);

    let body = data.to_vec();
    let records = vec![
        Record::new("dmesg-ramoops-0", body.clone(), None),
        Record::new("dmesg-ramoops-1.enc.z", body.clone(), None),
        Record::new("dmesg-efi_pstore-170000000002001", body.clone(), None),
        Record::new("dmesg-efi_pstore-170000000001001.enc.z", body.clone(), None),
        Record::new("console-ramoops-0", body, None),
    ];
    let coll = reassemble_with_cap(&records, CAP);
    for c in &coll.crashes {
        assert!(c.dmesg.len() <= 4 * (CAP + data.len()) + 8);
    }

    if let Ok(region) = parse_region(data, &LAYOUT) {
        let _ = reassemble_with_cap(&region.records(), CAP);
    }
});
