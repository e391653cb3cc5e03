//! `panicdump capture` and `panicdump collect` (owned by the capture-chain work).

use std::process::ExitCode;

/// Arguments of `panicdump capture`.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {}

/// Arguments of `panicdump collect`.
#[derive(clap::Args, Debug)]
pub struct CollectArgs {}

/// Run `panicdump capture`.
pub fn run_capture(_args: CaptureArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}

/// Run `panicdump collect`.
pub fn run_collect(_args: CollectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
