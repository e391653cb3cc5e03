//! `panicdump setup` and `setup --undo`: make this machine crash-ready
//! across reboots (boot loader parameters, sysctl.d, units, kernel hooks),
//! and take it all back byte for byte.

use anyhow::{bail, Context};
use arm::Root;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump setup`.
#[derive(clap::Args, Debug)]
pub struct SetupArgs {
    /// System root to set up (tests, images); commands such as update-grub
    /// and systemctl run only when it is `/`. Also PANICDUMP_ROOT.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Show a unified diff of every file that would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore every file setup changed to its original bytes, remove the ones it created.
    #[arg(long)]
    pub undo: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Configuration file [env: PANICDUMP_CONFIG] [default: /etc/panicdump/config.toml under --root].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The panicdump executable units and hooks run [default: /usr/bin/panicdump
    /// if present, else this executable].
    #[arg(long, value_name = "PATH")]
    pub exe: Option<String>,
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question}: not asking without a terminal; pass --yes");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn default_exe(root: &Root) -> String {
    if root.path("/usr/bin/panicdump").is_file() || !root.is_host() {
        return "/usr/bin/panicdump".into();
    }
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/usr/bin/panicdump".into())
}

/// Run `panicdump setup`.
pub fn run(a: SetupArgs) -> anyhow::Result<ExitCode> {
    let root = Root::from_arg_or_env(a.root.as_deref());
    let mut system = setup::SystemRunner;
    if a.undo {
        if a.dry_run {
            let d = setup::undo_diff(&root)?;
            if d.is_empty() {
                println!("nothing to undo");
            }
            print!("{d}");
            return Ok(ExitCode::SUCCESS);
        }
        if !a.yes && !confirm("Restore every file panicdump setup changed?")? {
            println!("nothing changed");
            return Ok(ExitCode::from(1));
        }
        let r = setup::undo(
            &root,
            root.is_host()
                .then_some(&mut system as &mut dyn setup::Runner),
        )
        .context("setup --undo")?;
        match &r.undone {
            None => println!("nothing to undo: setup has not changed this system"),
            Some(u) => {
                for p in &u.restored {
                    println!("restored {p}");
                }
                for p in &u.removed {
                    println!("removed  {p}");
                }
            }
        }
        print_commands(&r.ran, &r.not_run);
        if r.undone.is_some() {
            println!("reboot to boot without panicdump's kernel parameters");
        }
        return Ok(ExitCode::SUCCESS);
    }

    let cfg = super::config::load(&root, a.config.as_deref())?;
    let opts = setup::Options {
        exe: a.exe.clone().unwrap_or_else(|| default_exe(&root)),
    };
    let plan = setup::plan(&root, &cfg, &opts).context("planning setup")?;
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    if a.dry_run {
        let d = setup::dry_run_diff(&root, &plan)?;
        if d.is_empty() {
            println!("nothing to change");
        }
        print!("{d}");
        for c in &plan.commands {
            println!("would run: {}", c.join(" "));
        }
        if let Some(i) = &plan.instructions {
            println!("\n{i}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.yes {
        println!("panicdump setup will write:");
        for c in &plan.changes {
            println!("  {}  ({})", c.path, c.why);
        }
        if !plan.additions.params().is_empty() {
            println!("kernel parameters: {}", plan.additions.params().join(" "));
        }
        if !confirm("Proceed? (`panicdump setup --undo` takes it back)")? {
            println!("nothing changed");
            return Ok(ExitCode::from(1));
        }
    }
    let instructions = plan.instructions.clone();
    let params = plan.additions.params();
    let r = setup::apply(
        &root,
        plan,
        root.is_host()
            .then_some(&mut system as &mut dyn setup::Runner),
    )
    .context("setup (undo what was done with `panicdump setup --undo`)")?;
    for p in &r.applied.written {
        println!("wrote     {p}");
    }
    for p in &r.applied.unchanged {
        println!("unchanged {p}");
    }
    print_commands(&r.ran, &r.not_run);
    if let Some(i) = instructions {
        println!("\n{i}");
    } else if !params.is_empty() && !r.applied.written.is_empty() {
        println!(
            "kernel parameters: {}; reboot to apply them",
            params.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_commands(ran: &[String], not_run: &[String]) {
    for c in ran {
        println!("ran       {c}");
    }
    for c in not_run {
        println!("not run (not the real root): {c}");
    }
}
