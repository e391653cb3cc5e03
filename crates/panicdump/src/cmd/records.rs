//! `panicdump list`, `show`, `report` (owned by the crashdb work).

use std::process::ExitCode;

/// Arguments of `panicdump list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {}

/// Run `panicdump list`.
pub fn run_list(_args: ListArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
