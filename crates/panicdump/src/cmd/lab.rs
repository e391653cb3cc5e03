//! `panicdump lab` (owned by the lab work).

use std::process::ExitCode;

/// Arguments of `panicdump lab`.
#[derive(clap::Args, Debug)]
pub struct LabArgs {}

/// Run `panicdump lab`.
pub fn run(_args: LabArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
