//! Progress lines on stderr: `[lab kdump +12.3s] phase fill`.

use std::time::Instant;

/// A progress reporter for one recipe build; silent when disabled.
#[derive(Debug, Clone)]
pub struct Progress {
    enabled: bool,
    label: String,
    start: Instant,
}

impl Progress {
    /// A reporter labelled `label`, timing from now.
    pub fn new(label: &str, enabled: bool) -> Self {
        Self {
            enabled,
            label: label.to_string(),
            start: Instant::now(),
        }
    }

    /// Print one progress line (elapsed time since creation).
    pub fn note(&self, msg: &str) {
        if self.enabled {
            eprintln!(
                "[lab {} +{:.1}s] {msg}",
                self.label,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    /// Seconds since creation.
    pub fn elapsed_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}
