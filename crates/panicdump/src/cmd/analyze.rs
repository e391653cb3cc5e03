//! `panicdump title` and `panicdump analyze`: crash reports in a kernel log.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `panicdump title`.
#[derive(clap::Args, Debug)]
pub struct TitleArgs {
    /// A kernel log (dmesg text, pstore record, serial console capture); `-` for stdin.
    pub log: PathBuf,
}

/// Arguments of `panicdump analyze`.
#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// A kernel log (dmesg text, pstore record, serial console capture); `-` for stdin.
    pub log: PathBuf,
    /// Print the analysis as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show every report found, not only the first (the one that names the crash).
    #[arg(long)]
    pub all: bool,
}

fn read_log(path: &Path) -> anyhow::Result<oops::Analysis> {
    if path.as_os_str() == "-" {
        return oops::analyze_reader(io::stdin().lock()).context("reading the log from stdin");
    }
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    oops::analyze_reader(f).with_context(|| format!("reading {}", path.display()))
}

/// Run `panicdump title`: the title alone on the first line, nothing (and
/// exit status 0) when the log holds no crash.
pub fn run_title(args: TitleArgs) -> anyhow::Result<ExitCode> {
    let a = read_log(&args.log)?;
    if let Some(t) = a.title() {
        let mut out = io::stdout().lock();
        writeln!(out, "{t}").context("writing to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `panicdump analyze`.
pub fn run_analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let a = read_log(&args.log)?;
    let mut out = io::stdout().lock();
    if args.json {
        #[derive(serde::Serialize)]
        struct Json<'a> {
            title: Option<&'a str>,
            signature: Option<&'a str>,
            signature_hash: Option<&'a str>,
            #[serde(flatten)]
            analysis: &'a oops::Analysis,
            signatures: Vec<(&'a str, &'a str)>,
        }
        let p = a.primary();
        let j = Json {
            title: a.title(),
            signature: p.map(|r| r.signature()),
            signature_hash: p.map(|r| r.signature_hash()),
            analysis: &a,
            signatures: a
                .reports
                .iter()
                .map(|r| (r.signature(), r.signature_hash()))
                .collect(),
        };
        serde_json::to_writer_pretty(&mut out, &j).context("writing JSON")?;
        writeln!(out).context("writing to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    if a.reports.is_empty() {
        writeln!(out, "no crash report found ({} lines read)", a.lines)
            .context("writing to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    let shown = if args.all { a.reports.len() } else { 1 };
    let mut s = String::new();
    for (i, r) in a.reports.iter().take(shown).enumerate() {
        if i > 0 {
            s.push('\n');
        }
        render(&mut s, r);
    }
    if !args.all && a.reports.len() > 1 {
        let _ = writeln!(
            s,
            "\n({} more report(s) follow in the log; --all shows them)",
            a.reports.len() - 1
        );
        for r in &a.reports[1..] {
            let _ = writeln!(s, "  line {}: {}", r.line, r.title);
        }
    }
    out.write_all(s.as_bytes()).context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// One report as `panicdump analyze` prints it.
pub(crate) fn render(s: &mut String, r: &oops::Report) {
    let _ = writeln!(s, "title:     {}", r.title);
    let _ = writeln!(s, "kind:      {}", r.kind);
    let _ = writeln!(s, "signature: {} ({})", r.signature_hash(), r.signature());
    let _ = writeln!(s, "line:      {}: {}", r.line, r.header);
    if let Some(p) = &r.panic {
        let _ = writeln!(s, "panic:     {p}");
    }
    if let Some(rel) = &r.release {
        let _ = writeln!(s, "release:   {rel}");
    }
    if let Some(hw) = &r.hardware {
        let _ = writeln!(s, "hardware:  {hw}");
    }
    if let (Some(cpu), Some(pid)) = (r.cpu, r.pid) {
        let _ = writeln!(
            s,
            "task:      CPU {cpu} PID {pid} {}",
            r.comm.as_deref().unwrap_or("")
        );
    }
    if let Some(t) = &r.taint {
        if t.flags.is_empty() {
            let _ = writeln!(s, "taint:     not tainted");
        } else {
            let names: Vec<String> = t
                .flags
                .iter()
                .map(|f| format!("{}={}", f.letter, f.name))
                .collect();
            let _ = writeln!(s, "taint:     {}", names.join(" "));
        }
    }
    if r.truncated || r.corrupted {
        let _ = writeln!(
            s,
            "damage:    {}{}",
            if r.truncated { "truncated " } else { "" },
            if r.corrupted { "corrupted" } else { "" }
        );
    }
    if let Some(pc) = &r.pc {
        let _ = writeln!(s, "pc:        {}", frame(pc));
    }
    if !r.frames.is_empty() {
        let _ = writeln!(s, "call trace:");
        for f in &r.frames {
            let _ = writeln!(s, "  {}{}", if f.reliable { "" } else { "? " }, frame(f));
        }
    }
    if !r.registers.is_empty() {
        let regs: Vec<String> = r
            .registers
            .iter()
            .map(|x| format!("{}={}", x.name, x.value))
            .collect();
        let _ = writeln!(s, "registers: {}", regs.join(" "));
    }
    if !r.modules.is_empty() {
        let _ = writeln!(s, "modules:   {}", r.modules.join(" "));
    }
}

fn frame(f: &oops::Frame) -> String {
    let mut s = f.function.clone();
    if let Some(o) = f.offset {
        let _ = write!(s, "+{o:#x}");
        if let Some(z) = f.size {
            let _ = write!(s, "/{z:#x}");
        }
    }
    if let Some(m) = &f.module {
        let _ = write!(s, " [{m}]");
    }
    if f.inline {
        s.push_str(" [inline]");
    }
    s
}
