//! `panicdump dmesg`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump dmesg`.
#[derive(clap::Args, Debug)]
pub struct DmesgArgs {
    /// The dump file (/proc/vmcore, an ELF core, kdump-compressed or flattened).
    pub file: PathBuf,
}

/// Run `panicdump dmesg`.
pub fn run(_args: DmesgArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
