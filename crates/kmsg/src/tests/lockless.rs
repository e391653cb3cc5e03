//! Lockless ring buffer reader tests.

use super::prb_writer::*;
use super::read;
use crate::lockless::{map_block, Block};
use crate::{Caller, DevInfo, KmsgError, LogKind};

/// Text of record `i`: varying lengths so blocks land everywhere.
fn text_of(i: u64) -> Vec<u8> {
    let n = (i * 37 % 61) as usize;
    let mut t = format!("msg {i}:").into_bytes();
    t.extend((0..n).map(|j| b'a' + (j % 26) as u8));
    t
}

/// Check the reader returns exactly the writer's live records.
fn assert_matches_live(w: &PrbWriter) -> crate::Log {
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert_eq!(log.kind, LogKind::Lockless);
    assert!(log.warnings.is_empty(), "{:?}", log.warnings);
    assert_eq!(log.records.len(), w.live.len());
    for (r, e) in log.records.iter().zip(&w.live) {
        assert_eq!(r.seq, e.seq);
        assert_eq!(r.text, e.text, "seq {}", e.seq);
        assert_eq!(r.ts_nsec, e.ts);
        assert_eq!(r.level, e.level);
        assert_eq!(r.caller, Some(Caller::from_raw(e.caller)));
        assert!(r.flags.newline && !r.flags.continuation);
    }
    assert_eq!(log.lost, 0);
    log
}

#[test]
fn empty_ring_after_boot() {
    let w = PrbWriter::new(4, 10, TestLayout::LINUX);
    let log = assert_matches_live(&w);
    assert!(log.records.is_empty());
}

#[test]
fn many_records_wrap_both_rings_both_rules() {
    for layout in [TestLayout::LINUX, TestLayout::ODD] {
        for new_rule in [false, true] {
            for (count_bits, size_bits) in [(4, 9), (6, 10), (3, 12)] {
                let mut w = PrbWriter::new(count_bits, size_bits, layout);
                w.new_wrap_rule = new_rule;
                for i in 0..300u64 {
                    let caller = if i % 5 == 0 {
                        0x8000_0003
                    } else {
                        100 + i as u32
                    };
                    w.push(&text_of(i), i * 1_234_567, (i % 8) as u8, caller);
                    if i % 17 == 0 {
                        assert_matches_live(&w);
                    }
                }
                assert_matches_live(&w);
            }
        }
    }
}

/// Fill the data ring so that the next record ends exactly at the end of
/// the array.
fn exact_fit(new_rule: bool) -> (PrbWriter, Written) {
    let mut w = PrbWriter::new(4, 8, TestLayout::LINUX); // 256-byte ring
    w.new_wrap_rule = new_rule;
    // 3 blocks of 64 bytes (8 id + 56 text) → head index 192.
    for i in 0..3 {
        w.push(&[b'x' + i as u8; 56], i, 6, 1);
    }
    // 64-byte block at index 192 ends exactly at 256.
    let rec = w.push(&[b'E'; 56], 9, 6, 1);
    (w, rec)
}

#[test]
fn record_exactly_filling_array_tail() {
    // Old kernels wrap it (text at index 8), new ones keep it in place
    // with next at index 0; the reader handles both.
    let (w, rec) = exact_fit(false);
    assert_eq!(rec.begin & 255, 192);
    assert_eq!(rec.next & 255, 64, "old rule moves the text to the start");
    assert_matches_live(&w);
    let (w, rec) = exact_fit(true);
    assert_eq!(rec.begin & 255, 192);
    assert_eq!(rec.next & 255, 0);
    let log = assert_matches_live(&w);
    assert_eq!(log.records.last().unwrap().text, vec![b'E'; 56]);
    // Later records after that boundary keep working.
    let (mut w, _) = exact_fit(true);
    for i in 10..40 {
        w.push(&text_of(i), i, 6, 1);
    }
    assert_matches_live(&w);
}

#[test]
fn map_block_rules() {
    // 256-byte ring, lpos in the 5th wrap.
    let b = 4 * 256;
    assert_eq!(
        map_block(b + 16, b + 48, 8),
        Block::Data {
            offset: 16,
            len: 32
        }
    );
    // Wrapping block: begin near the end, text restarts at 0.
    assert_eq!(
        map_block(b + 240, b + 256 + 24, 8),
        Block::Data { offset: 0, len: 24 }
    );
    // Exactly filling the tail (≈6.18 writer).
    assert_eq!(
        map_block(b + 192, b + 256, 8),
        Block::Data {
            offset: 192,
            len: 64
        }
    );
    // lpos overflowing u64 (first wrap after boot).
    let start = 0u64.wrapping_sub(256);
    assert_eq!(
        map_block(start + 240, 24, 8),
        Block::Data { offset: 0, len: 24 }
    );
    assert_eq!(
        map_block(start, start + 40, 8),
        Block::Data { offset: 0, len: 40 }
    );
    assert_eq!(map_block(3, 3, 8), Block::EmptyLine);
    assert_eq!(map_block(1, 1, 8), Block::NoData);
    assert!(matches!(map_block(b, b + 512, 8), Block::Invalid(_)));
    assert!(matches!(map_block(b + 8, b, 8), Block::Invalid(_)));
    assert!(matches!(map_block(b + 4, b + 16, 8), Block::Invalid(_)));
}

#[test]
fn reserved_and_committed_head() {
    let mut w = PrbWriter::new(4, 10, TestLayout::LINUX);
    for i in 0..5 {
        w.push(&text_of(i), i, 6, 1);
    }
    // Committed (not finalized) head is a record.
    w.push_state(b"last line", 99, 3, 1, COMMITTED);
    let log = assert_matches_live(&w);
    assert_eq!(log.records.last().unwrap().text, b"last line");
    // A reserved head (writer interrupted by the crash) is skipped.
    w.push_state(b"half written", 100, 3, 1, RESERVED);
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert_eq!(log.records.len(), 6);
    assert_eq!(log.warnings.len(), 1, "{:?}", log.warnings);
    assert!(log.warnings[0].contains("reserved"));
}

#[test]
fn empty_line_records_and_dev_info() {
    let mut w = PrbWriter::new(4, 10, TestLayout::LINUX);
    let a = w.push(b"before", 1, 6, 1);
    w.set_dev_info(a.id, "pci", "+pci:0000:00:1f.2");
    w.push_empty_line(2);
    w.push(b"after", 3, 6, 1);
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert!(log.warnings.is_empty(), "{:?}", log.warnings);
    assert_eq!(log.records.len(), 3);
    assert_eq!(
        log.records[0].dev_info,
        Some(DevInfo {
            subsystem: "pci".into(),
            device: "+pci:0000:00:1f.2".into()
        })
    );
    assert!(log.records[1].dataless && log.records[1].text.is_empty());
    assert_eq!(log.records[1].seq, 1);
    assert_eq!(log.records[2].dev_info, None);
}

#[test]
fn damaged_descriptors_give_partial_output_and_warnings() {
    let mut w = PrbWriter::new(5, 11, TestLayout::LINUX);
    let recs: Vec<Written> = (0..20).map(|i| w.push(&text_of(i), i, 6, 1)).collect();
    // Bad state: reusable in the middle → a gap of one lost record.
    w.set_state(recs[3].id, REUSABLE);
    // ID mismatch: slot claims another id.
    let a = w.desc_addr(recs[5].id);
    w.mem.write_u64(a, (FINALIZED << 62) | (recs[5].id + 64));
    // lpos out of range: longer than the ring.
    w.write_desc(
        recs[7].id,
        FINALIZED,
        recs[7].begin,
        recs[7].begin.wrapping_add(4096),
    );
    // text_len too big: truncated to the block.
    w.set_text_len(recs[9].id, 60000);
    // FAILED_LPOS: data lost.
    w.write_desc(recs[11].id, FINALIZED, 1, 1);
    // Unaligned lpos.
    w.write_desc(
        recs[13].id,
        FINALIZED,
        recs[13].begin.wrapping_add(3),
        recs[13].next,
    );
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    let seqs: Vec<u64> = log.records.iter().map(|r| r.seq).collect();
    let expect: Vec<u64> = (0..20).filter(|s| ![3, 5, 7, 11, 13].contains(s)).collect();
    assert_eq!(seqs, expect);
    assert_eq!(log.lost, 5);
    assert_eq!(log.gaps.len(), 5);
    let r9 = log.records.iter().find(|r| r.seq == 9).unwrap();
    let block_text = recs[9].next.wrapping_sub(recs[9].begin) - 8;
    assert_eq!(r9.text.len() as u64, block_text);
    assert!(r9.text.starts_with(&recs[9].text));
    let all = log.warnings.join("\n");
    for needle in ["slot holds id", "invalid", "text_len 60000", "FAILED_LPOS"] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
}

#[test]
fn corrupt_ids_are_bounded() {
    let mut w = PrbWriter::new(4, 10, TestLayout::LINUX);
    for i in 0..10 {
        w.push(&text_of(i), i, 6, 1);
    }
    // tail far behind head: only one ring's worth of descriptors visited.
    w.tail_id = (w.head_id + 5) & ID_MASK;
    w.sync_header();
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert_eq!(log.records.len(), 10);
    assert!(log.warnings[0].contains("apart"), "{:?}", log.warnings);
}

#[test]
fn implausible_header_is_an_error() {
    let mut w = PrbWriter::new(4, 10, TestLayout::LINUX);
    w.count_bits = 40;
    w.sync_header();
    assert!(matches!(
        read(&w.mem, &w.vmcoreinfo()),
        Err(KmsgError::Corrupt { .. })
    ));
    let mut w = PrbWriter::new(4, 10, TestLayout::LINUX);
    w.size_bits = 63;
    w.sync_header();
    assert!(matches!(
        read(&w.mem, &w.vmcoreinfo()),
        Err(KmsgError::Corrupt { .. })
    ));
}

#[test]
fn unreadable_arrays_do_not_hang() {
    let mut w = PrbWriter::new(20, 10, TestLayout::LINUX);
    w.push(b"x", 1, 6, 1);
    // Point descs into a hole and put head far from tail.
    w.descs_pa = 0x7000_0000;
    w.head_id = (w.tail_id + 900_000) & ID_MASK;
    w.sync_header();
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert!(log.records.is_empty());
    assert!(log.warnings.iter().any(|m| m.contains("stopping")));
    assert!(log.warnings.len() <= 202);
}

#[test]
fn missing_keys_are_named() {
    let w = PrbWriter::new(4, 10, TestLayout::LINUX);
    let info = w.vmcoreinfo().replace("OFFSET(printk_info.seq)=0\n", "");
    match read(&w.mem, &info) {
        Err(KmsgError::MissingKey { key, .. }) => assert_eq!(key, "OFFSET(printk_info.seq)"),
        other => panic!("{other:?}"),
    }
    let e = read(&w.mem, "OSRELEASE=6.1.0\n").unwrap_err();
    assert!(matches!(e, KmsgError::NoLogKeys));
    assert!(e.to_string().contains("SYMBOL(prb)"));
}

#[test]
fn json_view() {
    let mut w = PrbWriter::new(4, 10, TestLayout::LINUX);
    w.push(b"caf\xc3\xa9 \xff", 5, 4, 0x8000_0001);
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    let v = serde_json::to_value(&log.records[0]).unwrap();
    assert_eq!(v["text"], "café \u{fffd}");
    assert_eq!(v["caller"], serde_json::json!({"cpu": 1}));
    assert_eq!(v["level"], 4);
    assert_eq!(v["flags"]["newline"], true);
    let whole = serde_json::to_value(&log).unwrap();
    assert_eq!(whole["kind"], "lockless");
}
