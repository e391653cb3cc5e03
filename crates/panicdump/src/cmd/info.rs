//! `panicdump info`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The dump file (/proc/vmcore, an ELF core, kdump-compressed or flattened).
    pub file: PathBuf,
}

/// Run `panicdump info`.
pub fn run(_args: InfoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
