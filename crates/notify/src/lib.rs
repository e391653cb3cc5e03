//! Announce a collected kernel crash.
//!
//! - [`journal`]: a structured entry sent over journald's native protocol
//!   (one datagram of `KEY=VALUE` fields) with the stable
//!   [`journal::MESSAGE_ID`], falling back to stderr when there is no
//!   journal;
//! - [`desktop`]: logged-in graphical users found through logind's state
//!   files, and an `org.freedesktop.Notifications.Notify` call on each
//!   user's session bus, made as that user.
//!
//! Nothing here panics on odd input: field names are validated, values are
//! sent binary-safe, and every failure is a typed [`NotifyError`].

pub mod desktop;
pub mod error;
pub mod journal;

pub use error::NotifyError;
