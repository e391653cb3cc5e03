//! `panicdump arm`, `status`, `estimate` (owned by the arm work).

use std::process::ExitCode;

/// Arguments of `panicdump arm`.
#[derive(clap::Args, Debug)]
pub struct ArmArgs {}

/// Run `panicdump arm`.
pub fn run(_args: ArmArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
