//! `panicdump test` (like `kdumpctl test`): arm, crash this machine on
//! purpose, and on the next boot (`panicdump test --report`) say whether
//! the crash was captured.

use anyhow::{bail, Context};
use arm::status::Status;
use arm::{state::State, Root};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `panicdump test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Do not ask before crashing the machine.
    #[arg(long)]
    pub yes: bool,
    /// After the reboot: report whether the test crash was captured
    /// (exit 0 yes, 1 no, 2 no test pending).
    #[arg(long)]
    pub report: bool,
    /// Do not run `panicdump arm` first (the machine is armed already).
    #[arg(long)]
    pub no_arm: bool,
    /// State directory [env: PANICDUMP_STATE_DIR] [default: /var/lib/panicdump].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// What was armed when the test crash was triggered.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    /// Unix time the crash was triggered.
    started_at: i64,
    /// `/proc/sys/kernel/random/boot_id` of the crashed boot.
    boot_id: String,
    /// A crash kernel was loaded.
    kdump: bool,
    /// The pstore backend, if any.
    pstore: Option<String>,
    /// Records that existed before (not the test's).
    known: Vec<String>,
}

const PENDING: &str = "selftest.json";

fn state_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("PANICDUMP_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crashdb::DEFAULT_STATE_DIR))
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn record_ids(state: &Path) -> anyhow::Result<Vec<String>> {
    Ok(crashdb::Store::new(state)
        .list()
        .context("listing crash records")?
        .into_iter()
        .map(|e| e.id)
        .collect())
}

/// Write `bytes` durably (temporary, fsync, rename, fsync directory).
fn write_durable(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Run `panicdump test`.
pub fn run(a: TestArgs) -> anyhow::Result<ExitCode> {
    let state = state_dir(a.state_dir.as_deref());
    if a.report {
        return report(&state);
    }
    let root = Root::default();
    if !a.no_arm {
        let exe = std::env::current_exe().context("locating panicdump")?;
        let st = std::process::Command::new(exe)
            .arg("arm")
            .status()
            .context("running panicdump arm")?;
        if !st.success() {
            bail!("panicdump arm failed ({st}); nothing was crashed");
        }
    }
    let s = State::read(&root);
    let status = Status::from_state(s.clone());
    if !status.armed() {
        print!("{status}");
        bail!("this machine is not armed; a crash now would be lost (see `panicdump setup`)");
    }
    let pending = Pending {
        started_at: crashdb::time::unix(std::time::SystemTime::now()),
        boot_id: boot_id(),
        kdump: s.crash_loaded == Some(true),
        pstore: s.pstore_backend.clone().filter(|b| !b.is_empty()),
        known: record_ids(&state)?,
    };
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            bail!("panicdump test crashes this machine; pass --yes to confirm without a terminal");
        }
        eprint!(
            "This crashes the kernel NOW (sysrq-c): unsaved work is lost, the machine reboots.\n\
             After the reboot run `panicdump test --report`. Type 'crash' to continue: "
        );
        std::io::stderr().flush().ok();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim() != "crash" {
            println!("not crashing");
            return Ok(ExitCode::from(1));
        }
    }
    write_durable(&state.join(PENDING), &serde_json::to_vec_pretty(&pending)?)?;
    println!(
        "crashing now (kdump: {}, pstore: {}); run `panicdump test --report` after the reboot",
        if pending.kdump { "armed" } else { "off" },
        pending.pstore.as_deref().unwrap_or("off")
    );
    std::io::stdout().flush().ok();
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/kernel/sysrq", "1").context("enabling sysrq")?;
    std::fs::write("/proc/sysrq-trigger", "c").context("writing c to /proc/sysrq-trigger")?;
    bail!("the kernel did not crash on sysrq-c")
}

fn report(state: &Path) -> anyhow::Result<ExitCode> {
    let path = state.join(PENDING);
    let pending: Pending = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("no self-test pending (run `panicdump test` first)");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    if !pending.boot_id.is_empty() && pending.boot_id == boot_id() {
        println!("the machine has not rebooted since `panicdump test`: the crash did not happen");
        return Ok(ExitCode::from(1));
    }
    let store = crashdb::Store::new(state);
    let mut got_dump = false;
    let mut got_pstore = false;
    let mut found = 0;
    for e in store.list().context("listing crash records")? {
        if pending.known.contains(&e.id) {
            continue;
        }
        let Ok(meta) = &e.meta else { continue };
        found += 1;
        let kinds: Vec<String> = meta
            .sources
            .iter()
            .map(|s| format!("{:?}", s.kind))
            .collect();
        got_dump |= meta.dump.is_some()
            || meta.sources.iter().any(|s| {
                matches!(
                    s.kind,
                    crashdb::SourceKind::Dump | crashdb::SourceKind::VmcoreDmesg
                )
            });
        got_pstore |= meta
            .sources
            .iter()
            .any(|s| matches!(s.kind, crashdb::SourceKind::Pstore));
        println!(
            "record {}: {} [{}]{}",
            e.id,
            meta.title.as_deref().unwrap_or("(no title)"),
            kinds.join(", "),
            meta.dump
                .as_ref()
                .map(|d| format!(", dump {} bytes", d.bytes))
                .unwrap_or_default()
        );
    }
    let kdump_ok = !pending.kdump || got_dump;
    let pstore_ok = pending.pstore.is_none() || got_pstore;
    println!(
        "kdump: {}",
        match (pending.kdump, got_dump) {
            (false, _) => "not armed",
            (true, true) => "captured",
            (true, false) => "NOT captured",
        }
    );
    println!(
        "pstore: {}",
        match (pending.pstore.is_some(), got_pstore) {
            (false, _) => "not armed",
            (true, true) => "captured",
            (true, false) => "NOT captured",
        }
    );
    if found > 0 && kdump_ok && pstore_ok {
        println!("self-test passed: the crash was captured");
        std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "self-test FAILED: {found} new crash record(s); was `panicdump collect` run after the reboot? See `panicdump status`."
        );
        Ok(ExitCode::from(1))
    }
}
