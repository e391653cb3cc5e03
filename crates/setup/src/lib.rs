//! `panicdump setup`: make a machine crash-ready across reboots without the
//! user knowing what `crashkernel=` or ramoops mean.
//!
//! - [`detect`]: GRUB (drop-in or main file), kernel-install, pacman, systemd;
//! - [`params`]: `crashkernel=` from the estimate, a `memmap=` region for ramoops;
//! - [`files`]: the text of every file written;
//! - [`plan`]: files, commands, notes, or manual instructions;
//! - [`manifest`]: originals recorded before any change; byte-exact undo;
//! - [`diff`]: unified diffs for `--dry-run`.
//!
//! Everything works on a [`Root`], so tests build file trees in temporary
//! directories; commands (grub-mkconfig, systemctl) go through a [`Runner`]
//! and are only run on the real root.

pub mod bootline;
pub mod detect;
pub mod diff;
pub mod error;
pub mod files;
mod fsx;
pub mod manifest;
pub mod params;
pub mod plan;

pub use arm::Root;
pub use error::{Result, SetupError};
pub use plan::{plan, Change, Content, Options, SetupPlan};

/// Runs the commands setup needs afterwards (grub-mkconfig, systemctl).
pub trait Runner {
    /// Run `argv`; an error when it cannot start or exits non-zero.
    fn run(&mut self, argv: &[String]) -> Result<()>;
}

/// Runs commands for real.
#[derive(Debug, Default)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&mut self, argv: &[String]) -> Result<()> {
        let command = argv.join(" ");
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status()
            .map_err(|e| SetupError::Command {
                command: command.clone(),
                message: e.to_string(),
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(SetupError::Command {
                command,
                message: status.to_string(),
            })
        }
    }
}

/// The result of `setup`.
#[derive(Debug)]
pub struct Report {
    /// The plan that was carried out.
    pub plan: SetupPlan,
    /// Files written and left alone.
    pub applied: manifest::Applied,
    /// Commands run.
    pub ran: Vec<String>,
    /// Commands not run (no runner: a `--root` tree).
    pub not_run: Vec<String>,
}

fn run_commands(
    commands: &[Vec<String>],
    runner: Option<&mut dyn Runner>,
) -> Result<(Vec<String>, Vec<String>)> {
    let (mut ran, mut not_run) = (Vec::new(), Vec::new());
    match runner {
        Some(r) => {
            for c in commands {
                r.run(c)?;
                ran.push(c.join(" "));
            }
        }
        None => not_run.extend(commands.iter().map(|c| c.join(" "))),
    }
    Ok((ran, not_run))
}

/// Unified diffs of every file the plan would change (empty: nothing).
pub fn dry_run_diff(root: &Root, plan: &SetupPlan) -> Result<String> {
    let mut out = String::new();
    for c in &plan.changes {
        let now = manifest::current(root, &c.path)?;
        out.push_str(&diff::unified(&c.path, &now, &Some(c.content.clone())));
    }
    Ok(out)
}

/// Carry out `plan` under `root`; commands run only with a runner.
pub fn apply(root: &Root, plan: SetupPlan, runner: Option<&mut dyn Runner>) -> Result<Report> {
    let applied = manifest::apply(root, &plan.changes)?;
    // Regenerating boot entries is only needed when something changed.
    let commands: Vec<Vec<String>> = if applied.written.is_empty() {
        Vec::new()
    } else {
        plan.commands.clone()
    };
    let (ran, not_run) = run_commands(&commands, runner)?;
    Ok(Report {
        plan,
        applied,
        ran,
        not_run,
    })
}

/// Unified diffs of what `setup --undo` would restore.
pub fn undo_diff(root: &Root) -> Result<String> {
    let mut out = String::new();
    for (path, original) in manifest::undo_plan(root)? {
        let now = manifest::current(root, &path)?;
        out.push_str(&diff::unified(&path, &now, &original));
    }
    Ok(out)
}

/// The result of `setup --undo`.
#[derive(Debug)]
pub struct UndoReport {
    /// What was restored and removed; `None`: setup had not run.
    pub undone: Option<manifest::Undone>,
    /// Commands run.
    pub ran: Vec<String>,
    /// Commands not run (no runner).
    pub not_run: Vec<String>,
}

/// Restore every file setup changed, then regenerate boot entries.
pub fn undo(root: &Root, runner: Option<&mut dyn Runner>) -> Result<UndoReport> {
    let undone = manifest::undo(root)?;
    let mut commands = Vec::new();
    if let Some(u) = &undone {
        let touched: Vec<&String> = u.restored.iter().chain(&u.removed).collect();
        let det = detect::Detected::scan(root);
        let grub_touched = touched.iter().any(|p| p.starts_with("/etc/default/grub"));
        if grub_touched {
            commands.extend(det.grub_mkconfig.clone());
        }
        if let Some(systemctl) = detect::which(root, "systemctl")
            .filter(|_| touched.iter().any(|p| p.starts_with(plan::UNIT_DIR)))
        {
            commands.push(vec![systemctl, "daemon-reload".into()]);
        }
        if touched.iter().any(|p| *p == plan::KERNEL_CMDLINE) {
            if let (Some(ki), Some(release)) = (
                detect::which(root, "kernel-install"),
                root.read_trim("/proc/sys/kernel/osrelease"),
            ) {
                commands.push(vec![
                    ki,
                    "add".into(),
                    release.clone(),
                    format!("/boot/vmlinuz-{release}"),
                ]);
            }
        }
    }
    let (ran, not_run) = run_commands(&commands, runner)?;
    Ok(UndoReport {
        undone,
        ran,
        not_run,
    })
}
