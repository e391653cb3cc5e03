//! `panicdump title` and `panicdump analyze` (owned by the oops work).

use std::path::PathBuf;
use std::process::ExitCode;

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
}

/// Run `panicdump title`.
pub fn run_title(_args: TitleArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Run `panicdump analyze`.
pub fn run_analyze(_args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
