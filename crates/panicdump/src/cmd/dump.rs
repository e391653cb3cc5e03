//! `panicdump dump` (owned by the dump-writer work).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump dump`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The source dump (/proc/vmcore or any dump panicdump reads).
    pub source: PathBuf,
    /// The output file.
    pub out: PathBuf,
}

/// Run `panicdump dump`.
pub fn run(_args: DumpArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
