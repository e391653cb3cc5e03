//! `panicdump generate`: man pages and shell completions from the CLI
//! definition itself, so they can never drift from `--help`. Hidden: it is
//! for packagers (`scripts/package.sh`, the PKGBUILD), not for users.

use anyhow::{Context, Result};
use clap::CommandFactory;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `panicdump generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Write panicdump.1 and one panicdump-<command>.1 per command into DIR.
    Man {
        /// Output directory (created when missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL, or write all of them into --dir.
    Completions {
        /// bash, zsh or fish.
        #[arg(value_enum, required_unless_present = "dir")]
        shell: Option<Shell>,
        /// Write panicdump.bash, _panicdump and panicdump.fish into DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "shell")]
        dir: Option<PathBuf>,
    },
}

/// Shells with completions.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn clap(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// Run `panicdump generate`.
pub fn run(a: GenerateArgs) -> Result<ExitCode> {
    match a.what {
        What::Man { dir } => {
            let pages = write_man_pages(&dir)?;
            eprintln!("wrote {pages} man pages into {}", dir.display());
        }
        What::Completions {
            shell: Some(shell), ..
        } => {
            let mut cmd = crate::Cli::command();
            clap_complete::generate(shell.clap(), &mut cmd, "panicdump", &mut std::io::stdout());
        }
        What::Completions {
            shell: None,
            dir: Some(dir),
        } => {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                let mut cmd = crate::Cli::command();
                let path = clap_complete::generate_to(shell.clap(), &mut cmd, "panicdump", &dir)
                    .with_context(|| {
                        format!("writing {shell:?} completions into {}", dir.display())
                    })?;
                eprintln!("wrote {}", path.display());
            }
        }
        What::Completions {
            shell: None,
            dir: None,
        } => unreachable!("clap requires SHELL or --dir"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Write the page of `cmd` (named `name`) and, recursively, of its visible
/// subcommands. Returns the number of pages written.
fn write_pages(cmd: &clap::Command, name: &str, dir: &Path) -> Result<usize> {
    // clap names are `&'static str` without its `string` feature; a few
    // dozen short strings leaked by a one-shot generator are harmless.
    let static_name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let page = cmd
        .clone()
        .name(static_name)
        .bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .with_context(|| format!("rendering {name}.1"))?;
    let path = dir.join(format!("{name}.1"));
    fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    let mut n = 1;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        n += write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(n)
}

/// Write every man page into `dir`.
pub fn write_man_pages(dir: &Path) -> Result<usize> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = crate::Cli::command();
    cmd.build();
    write_pages(&cmd, "panicdump", dir)
}
