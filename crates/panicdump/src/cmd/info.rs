//! `panicdump info`: what a dump is and what it says about the crash.

use crate::kernel;
use anyhow::Result;
use dumpfile::Utsname;
use dumpfile::{CpuState, Dump, PageCounts};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The dump: /proc/vmcore, an ELF core (kdump or QEMU), kdump-compressed
    /// or flattened.
    pub file: PathBuf,
    /// Print a JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `info` reports; `--json` prints it as is.
#[derive(Serialize, Debug, Default)]
struct Info {
    file: String,
    file_size: u64,
    format: String,
    format_detail: Option<dumpfile::Format>,
    kernel: Kernel,
    crash_time: Option<CrashTime>,
    panic_message: Option<String>,
    crash_title: Option<String>,
    cpus: Cpus,
    page_size: Option<u64>,
    dump_level: Option<i32>,
    pages: Option<PageCounts>,
    panicking_cpu: Option<PanicCpu>,
    log_records: Option<usize>,
    warnings: Vec<String>,
}

#[derive(Serialize, Debug, Default)]
struct Kernel {
    release: Option<String>,
    version: Option<String>,
    machine: Option<String>,
    hostname: Option<String>,
    build_id: Option<String>,
    kaslr_offset: Option<u64>,
}

#[derive(Serialize, Debug)]
struct CrashTime {
    /// Seconds since the epoch.
    epoch: i64,
    /// ISO 8601, UTC.
    utc: String,
    /// Where the time came from.
    source: &'static str,
}

#[derive(Serialize, Debug, Default)]
struct Cpus {
    /// CPUs the dump header declares (kdump-compressed only).
    declared: Option<i32>,
    /// CPUs with saved registers (NT_PRSTATUS notes).
    with_registers: usize,
}

#[derive(Serialize, Debug)]
struct PanicCpu {
    /// Index among the register notes.
    note_index: usize,
    /// The task running on it.
    pid: i32,
    /// How it was identified.
    identified_by: String,
    /// `rip` as `function+off/size`, when kallsyms is available.
    rip_symbol: Option<String>,
    registers: Vec<(String, u64)>,
}

/// ISO 8601 UTC, as crash records print times.
fn utc(epoch: i64) -> String {
    crashdb::time::rfc3339(epoch)
}

/// Find the panicking CPU: the task named on the `CPU: N PID: P` line after
/// the panic message, else the only CPU, else the kernel's `panic_cpu`.
fn panicking_cpu(
    cpus: &[CpuState],
    log_pid: Option<i32>,
    panic_cpu_var: Option<u32>,
) -> Option<(usize, String)> {
    if let Some(pid) = log_pid {
        let hits: Vec<usize> = (0..cpus.len()).filter(|&i| cpus[i].pid == pid).collect();
        if hits.len() == 1 {
            return Some((hits[0], format!("PID {pid} on the panic's CPU line")));
        }
    }
    if cpus.len() == 1 {
        return Some((0, "only CPU with registers".into()));
    }
    let c = panic_cpu_var? as usize;
    (c < cpus.len()).then(|| (c, "kernel variable panic_cpu".into()))
}

/// From the log text: the panic message and the PID of the CPU line that
/// follows it.
fn panic_from_log(log: &kmsg::Log) -> (Option<String>, Option<i32>) {
    const PANIC: &str = "Kernel panic - not syncing: ";
    let Some(idx) = log
        .records
        .iter()
        .rposition(|r| r.text.windows(PANIC.len()).any(|w| w == PANIC.as_bytes()))
    else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&log.records[idx].text);
    let msg = text[text.find(PANIC).unwrap_or(0)..].trim_end().to_string();
    let pid = log.records[idx..].iter().take(5).find_map(|r| {
        let t = String::from_utf8_lossy(&r.text);
        let rest = t.split_once(" PID: ")?.1;
        rest.split_whitespace().next()?.parse().ok()
    });
    (Some(msg), pid)
}

fn gather(args: &InfoArgs, dump: &Dump) -> Info {
    let mut info = Info {
        file: args.file.display().to_string(),
        file_size: std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0),
        format: dump.format().to_string(),
        format_detail: Some(dump.format()),
        warnings: dump.warnings().to_vec(),
        page_size: Some(dump.memory().page_size()),
        pages: Some(dump.page_counts()),
        ..Default::default()
    };
    info.cpus.with_registers = dump.cpus().len();
    if let Some(h) = dump.kdump_header() {
        info.cpus.declared = Some(h.nr_cpus);
        info.dump_level = h.dump_level;
        info.kernel.release = Some(h.utsname.release.clone()).filter(|s| !s.is_empty());
        info.kernel.version = Some(h.utsname.version.clone()).filter(|s| !s.is_empty());
        info.kernel.machine = Some(h.utsname.machine.clone()).filter(|s| !s.is_empty());
        info.kernel.hostname = Some(h.utsname.nodename.clone()).filter(|s| !s.is_empty());
        if h.timestamp_sec > 0 {
            info.crash_time = Some(CrashTime {
                epoch: h.timestamp_sec,
                utc: utc(h.timestamp_sec),
                source: "dump header",
            });
        }
    }
    let Some(vmci) = dump.vmcoreinfo() else {
        info.warnings
            .push("no VMCOREINFO: kernel structures (log, symbols) cannot be read".into());
        return info;
    };
    info.kernel.release = info.kernel.release.or(vmci.osrelease().map(String::from));
    info.kernel.build_id = vmci.build_id().map(String::from);
    info.kernel.kaslr_offset = vmci.kernel_offset();
    if let Some(t) = vmci.crash_time() {
        info.crash_time = Some(CrashTime {
            epoch: t,
            utc: utc(t),
            source: "VMCOREINFO CRASHTIME",
        });
    }
    let kmem = match kernel::kernel_memory(dump) {
        Ok(k) => k,
        Err(e) => {
            info.warnings.push(format!("{e:#}"));
            return info;
        }
    };
    if let Some(Utsname {
        release,
        version,
        machine,
        nodename,
        ..
    }) = kernel::utsname(&kmem)
    {
        info.kernel.release = Some(release);
        info.kernel.version = Some(version);
        info.kernel.machine = Some(machine);
        info.kernel.hostname = Some(nodename);
    }
    let syms = match kernel::kallsyms(&kmem) {
        Ok(s) => Some(s),
        Err(e) => {
            info.warnings.push(format!("no kernel symbols: {e}"));
            None
        }
    };
    let mut log_pid = None;
    match kmsg::read_log(&kmem) {
        Ok(log) => {
            info.log_records = Some(log.records.len());
            let (msg, pid) = panic_from_log(&log);
            info.panic_message = msg;
            log_pid = pid;
            let mut text = Vec::new();
            let _ = kmsg::write_log(&log, &kmsg::RenderOptions::MAKEDUMPFILE, &mut text);
            info.crash_title = oops::analyze(&text).title().map(String::from);
            info.warnings.extend(log.warnings);
        }
        Err(e) => info.warnings.push(format!("kernel log: {e}")),
    }
    let panic_cpu_var = syms
        .as_ref()
        .and_then(|s| s.lookup("panic_cpu"))
        .and_then(|va| kmem.read_u32(va).ok());
    if let Some((i, how)) = panicking_cpu(dump.cpus(), log_pid, panic_cpu_var) {
        let cpu = &dump.cpus()[i];
        let rip_symbol = cpu
            .pc()
            .and_then(|pc| syms.as_ref()?.locate(pc).map(|l| l.to_string()));
        let registers = dumpfile::notes::X86_64_REG_NAMES
            .iter()
            .zip(&cpu.raw_regs)
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        info.panicking_cpu = Some(PanicCpu {
            note_index: i,
            pid: cpu.pid,
            identified_by: how,
            rip_symbol,
            registers,
        });
    }
    info
}

fn print_human(i: &Info) {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "unknown".into());
    println!("File:          {} ({} bytes)", i.file, i.file_size);
    println!("Format:        {}", i.format);
    println!(
        "Kernel:        {} {}",
        opt(&i.kernel.release),
        i.kernel.version.clone().unwrap_or_default()
    );
    if let Some(m) = &i.kernel.machine {
        println!("Machine:       {m}");
    }
    if let Some(h) = &i.kernel.hostname {
        println!("Hostname:      {h}");
    }
    if let Some(off) = i.kernel.kaslr_offset {
        println!("KASLR offset:  {off:#x}");
    }
    match &i.crash_time {
        Some(t) => println!("Crash time:    {} ({})", t.utc, t.source),
        None => println!("Crash time:    unknown"),
    }
    println!("Panic:         {}", opt(&i.panic_message));
    if let Some(t) = &i.crash_title {
        println!("Crash:         {t}");
    }
    match i.cpus.declared {
        Some(n) => println!(
            "CPUs:          {n} ({} with saved registers)",
            i.cpus.with_registers
        ),
        None => println!(
            "CPUs:          {} with saved registers",
            i.cpus.with_registers
        ),
    }
    if let Some(ps) = i.page_size {
        println!("Page size:     {ps}");
    }
    match i.dump_level {
        Some(l) => println!("Dump level:    {l}"),
        None => println!("Dump level:    none (unfiltered)"),
    }
    if let Some(p) = &i.pages {
        println!(
            "Pages:         {} stored, {} zero, {} excluded, {} holes (max pfn {:#x})",
            p.present, p.zero, p.excluded, p.holes, p.max_pfn
        );
    }
    if let Some(n) = i.log_records {
        println!("Log records:   {n}");
    }
    if let Some(c) = &i.panicking_cpu {
        println!(
            "Panicking CPU: note {} (PID {}; {})",
            c.note_index, c.pid, c.identified_by
        );
        if let Some(s) = &c.rip_symbol {
            println!("  RIP: {s}");
        }
        for row in c.registers.chunks(3) {
            let cells: Vec<String> = row
                .iter()
                .map(|(n, v)| format!("{:>8}: {v:016x}", n.to_uppercase()))
                .collect();
            println!("{}", cells.join(" "));
        }
    }
    for w in &i.warnings {
        println!("Warning:       {w}");
    }
}

/// Run `panicdump info`.
pub fn run(args: InfoArgs) -> Result<ExitCode> {
    let dump = kernel::open_dump(&args.file)?;
    let info = gather(&args, &dump);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_human(&info);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn panicking_cpu_prefers_log_pid() {
        let cpu = |pid| CpuState {
            pid,
            ..Default::default()
        };
        let cpus = [cpu(0), cpu(77), cpu(5)];
        assert_eq!(panicking_cpu(&cpus, Some(77), None).unwrap().0, 1);
        // Ambiguous or unknown PID: fall back to panic_cpu.
        assert_eq!(panicking_cpu(&cpus, Some(9), Some(2)).unwrap().0, 2);
        assert_eq!(panicking_cpu(&cpus, None, None), None);
        assert_eq!(panicking_cpu(&cpus[..1], None, None).unwrap().0, 0);
    }
}
