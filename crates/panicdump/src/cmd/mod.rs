//! One module per subcommand family. Each exposes its clap argument struct(s)
//! and a `run` function returning the process exit code.

pub mod analyze;
pub mod arm;
pub mod capture;
pub mod collect;
pub mod config;
pub mod dmesg;
pub mod dump;
pub mod generate;
pub mod info;
pub mod lab;
pub mod notify;
pub mod qr;
pub mod records;
pub mod selftest;
#[cfg(feature = "server")]
pub mod serve;
pub mod setup;
#[cfg(feature = "submit")]
pub mod submit;
