//! panicdump's configuration file, `/etc/panicdump/config.toml`.
//!
//! - [`model`]: the sections and keys with their defaults;
//!   `Config::default()` is what an empty file means;
//! - [`load`]: reading the file with errors naming file, line and key;
//!   unknown keys are warnings ([`load()`]) or errors ([`load_strict`]);
//! - [`keys`]: every key documented, the source of `dist/config.toml` and
//!   `docs/configuration.md`.

pub mod keys;
pub mod load;
pub mod model;
pub mod size;

pub use load::{load, load_strict, parse, ConfigError, Loaded, UnknownKey, DEFAULT_PATH};
pub use model::{
    AfterCapture, Backend, Config, DumpCompression, InitramfsCompression, Kdump, Mode, Notify,
    Pstore, Retention, Submit, Switch, Sysctl,
};
pub use size::Size;
