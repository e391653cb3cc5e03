//! Armed or not, and why.

use crate::state::State;
use serde::Serialize;
use std::fmt;

/// The verdict with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// A crash kernel is loaded into a reservation.
    pub kdump_armed: bool,
    /// A pstore backend is active.
    pub pstore_armed: bool,
    /// An oops will be captured (becomes a panic).
    pub oops_captured: bool,
    /// Human reasons, one per finding.
    pub reasons: Vec<String>,
    /// The raw state.
    pub state: State,
}

impl Status {
    /// Judge a state.
    pub fn from_state(state: State) -> Self {
        let mut reasons = Vec::new();
        let kdump_armed = match (state.crash_loaded, state.crash_size) {
            (None, _) => {
                reasons.push(
                    "kdump: /sys/kernel/kexec_crash_loaded absent (kernel without kexec?)".into(),
                );
                false
            }
            (Some(_), Some(0) | None) => {
                reasons.push("kdump: no crashkernel= reservation".into());
                false
            }
            (Some(false), Some(n)) => {
                reasons.push(format!(
                    "kdump: {} MiB reserved but no crash kernel loaded (run `panicdump arm`)",
                    n >> 20
                ));
                false
            }
            (Some(true), Some(n)) => {
                reasons.push(format!("kdump: crash kernel loaded in {} MiB", n >> 20));
                true
            }
        };
        let pstore_armed = match &state.pstore_backend {
            Some(b) => {
                reasons.push(format!("pstore: backend {b}"));
                true
            }
            None => {
                reasons.push("pstore: no backend".into());
                false
            }
        };
        if kdump_armed && pstore_armed && state.post_notifiers.as_deref() != Some("Y") {
            reasons.push("pstore: crash_kexec_post_notifiers is off: the panic record is not written when kdump takes the panic".into());
        }
        let oops_captured = state.sysctl("kernel.panic_on_oops") == Some("1");
        if !oops_captured {
            reasons.push(
                "kernel.panic_on_oops is not 1: an oops does not panic and is not captured".into(),
            );
        }
        if let Some(s) = &state.panic_screen {
            reasons.push(panic_screen_reason(s));
        }
        Self {
            kdump_armed,
            pstore_armed,
            oops_captured,
            reasons,
            state,
        }
    }

    /// Armed for at least one capture path.
    pub fn armed(&self) -> bool {
        self.kdump_armed || self.pstore_armed
    }
}

/// What the screen shows at a panic, and where a QR code leads: the URL
/// prefix is compiled into the kernel, so `setup` cannot point it at a
/// crash server; `panicdump qr` decodes a scanned code wherever it points.
fn panic_screen_reason(s: &crate::state::PanicScreen) -> String {
    let mut r = format!("drm_panic: panic screen {:?}", s.mode);
    match (s.qr_code, s.qr_url.as_deref()) {
        (Some(true), url) => {
            if s.mode != "qr_code" {
                r.push_str("; a QR code is available with drm.panic_screen=qr_code");
            }
            match url {
                Some(u) if !u.is_empty() => r.push_str(&format!(
                    "; the code links to {u} (set when the kernel was built); \
                     `panicdump qr URL` decodes a scanned code"
                )),
                _ => r.push_str("; the code holds raw data, no URL"),
            }
        }
        (Some(false), _) => r.push_str(" (this kernel has no QR-code screen)"),
        (None, _) => r.push_str(" (kernel config not found: QR-code support unknown)"),
    }
    r
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yn = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "armed:  {}", yn(self.armed()))?;
        writeln!(f, "kdump:  {}", yn(self.kdump_armed))?;
        writeln!(f, "pstore: {}", yn(self.pstore_armed))?;
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        writeln!(f, "sysctls:")?;
        for (n, v) in &self.state.sysctls {
            writeln!(f, "  {n} = {}", v.as_deref().unwrap_or("(absent)"))?;
        }
        Ok(())
    }
}
