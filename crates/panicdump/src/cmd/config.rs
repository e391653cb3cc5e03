//! `panicdump config check` and `panicdump config show`, and the config
//! loading every other command shares.

use anyhow::Context;
use arm::Root;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `panicdump config`.
#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub sub: ConfigSub,
}

/// `panicdump config` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ConfigSub {
    /// Validate the configuration file: syntax, types, values, unknown keys.
    Check(FileArgs),
    /// Print the effective configuration, defaults included.
    Show(ShowArgs),
}

/// Which file.
#[derive(clap::Args, Debug)]
pub struct FileArgs {
    /// The file [env: PANICDUMP_CONFIG] [default: /etc/panicdump/config.toml under --root].
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// System root; also PANICDUMP_ROOT.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Arguments of `panicdump config show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Which file.
    #[command(flatten)]
    pub file: FileArgs,
    /// JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
}

/// The config file: `flag`, else `PANICDUMP_CONFIG`, else
/// `/etc/panicdump/config.toml` under `root`.
pub fn config_path(root: &Root, flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("PANICDUMP_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| root.path(config::DEFAULT_PATH))
}

/// The live system's config file: `PANICDUMP_CONFIG`, else
/// `/etc/panicdump/config.toml`.
pub fn system_config_path() -> PathBuf {
    config_path(&Root::default(), None)
}

/// Load the configuration (a missing file is all defaults), printing
/// warnings for unknown keys.
pub fn load(root: &Root, flag: Option<&Path>) -> anyhow::Result<config::Config> {
    let path = config_path(root, flag);
    let loaded = config::load(&path).context("reading the configuration")?;
    for w in loaded.warnings() {
        eprintln!("panicdump: warning: {w}");
    }
    Ok(loaded.config)
}

/// Run `panicdump config`.
pub fn run(a: ConfigArgs) -> anyhow::Result<ExitCode> {
    match a.sub {
        ConfigSub::Check(f) => {
            let root = Root::from_arg_or_env(f.root.as_deref());
            let path = config_path(&root, f.file.as_deref());
            match config::load_strict(&path) {
                Ok(_) => {
                    println!("{}: ok", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("panicdump: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        ConfigSub::Show(s) => {
            let root = Root::from_arg_or_env(s.file.root.as_deref());
            let path = config_path(&root, s.file.file.as_deref());
            let loaded = config::load(&path).context("reading the configuration")?;
            for w in loaded.warnings() {
                eprintln!("panicdump: warning: {w}");
            }
            if s.json {
                println!("{}", serde_json::to_string_pretty(&loaded.config)?);
            } else {
                match &loaded.path {
                    Some(p) => println!(
                        "# effective configuration: {} over the defaults",
                        p.display()
                    ),
                    None => println!(
                        "# effective configuration: defaults ({} does not exist)",
                        path.display()
                    ),
                }
                print!("{}", loaded.config.to_toml());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
