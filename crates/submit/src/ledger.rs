//! The client-side rate limit: what was sent in the last 24 hours
//! (`ledger.json`). A report over the limit stays queued until enough of
//! the window has passed; it is never dropped.

use serde::{Deserialize, Serialize};

/// The rate-limit window.
pub const WINDOW_SECS: i64 = 86_400;

/// One sent report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerItem {
    /// Record id.
    pub record: String,
    /// When it was sent (Unix seconds).
    pub at: i64,
    /// Bundle size sent.
    pub bytes: u64,
}

/// `ledger.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Reports sent, oldest first; items older than the window are dropped
    /// when the ledger is written.
    pub sent: Vec<LedgerItem>,
}

/// Usage of the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Reports sent in the last 24 hours.
    pub reports: u32,
    /// Bytes sent in the last 24 hours.
    pub bytes: u64,
    /// The limit on reports.
    pub max_reports: u32,
    /// The limit on bytes.
    pub max_bytes: u64,
}

/// Whether a bundle may be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Within the limits.
    Now,
    /// Over a limit until this time (Unix seconds); the reason says which.
    Later(i64, String),
    /// Larger than the whole daily byte limit: it can never be sent under
    /// these settings.
    Never(String),
}

impl Ledger {
    fn window(&self, now: i64) -> impl Iterator<Item = &LedgerItem> {
        self.sent
            .iter()
            .filter(move |i| i.at > now - WINDOW_SECS && i.at <= now + WINDOW_SECS)
    }

    /// Usage at `now`.
    pub fn usage(&self, now: i64, max_reports: u32, max_bytes: u64) -> Usage {
        let (mut reports, mut bytes) = (0u32, 0u64);
        for i in self.window(now) {
            reports = reports.saturating_add(1);
            bytes = bytes.saturating_add(i.bytes);
        }
        Usage {
            reports,
            bytes,
            max_reports,
            max_bytes,
        }
    }

    /// May a bundle of `bytes` go at `now`?
    pub fn admit(&self, now: i64, bytes: u64, max_reports: u32, max_bytes: u64) -> Admission {
        if bytes > max_bytes {
            return Admission::Never(format!(
                "the bundle ({bytes} bytes) is larger than the daily limit of {max_bytes} bytes"
            ));
        }
        let mut items: Vec<&LedgerItem> = self.window(now).collect();
        items.sort_by_key(|i| i.at);
        let mut count = items.len() as u64;
        let mut used: u64 = items.iter().map(|i| i.bytes).sum();
        if count < u64::from(max_reports) && used.saturating_add(bytes) <= max_bytes {
            return Admission::Now;
        }
        let reason = if count >= u64::from(max_reports) {
            format!("daily limit of {max_reports} reports reached")
        } else {
            format!("daily limit of {max_bytes} bytes reached ({used} sent in the last 24 h)")
        };
        // The earliest time enough old items leave the window.
        for i in &items {
            count -= 1;
            used -= i.bytes;
            if count < u64::from(max_reports) && used.saturating_add(bytes) <= max_bytes {
                return Admission::Later(i.at + WINDOW_SECS, reason);
            }
        }
        // max_reports == 0: nothing is ever admitted.
        Admission::Never(reason)
    }

    /// Record a send and forget items that left the window.
    pub fn record(&mut self, record: &str, at: i64, bytes: u64) {
        self.sent.retain(|i| i.at > at - WINDOW_SECS);
        self.sent.push(LedgerItem {
            record: record.to_string(),
            at,
            bytes,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(items: &[(i64, u64)]) -> Ledger {
        let mut l = Ledger::default();
        for (n, &(at, b)) in items.iter().enumerate() {
            l.record(&format!("r{n}"), at, b);
        }
        l
    }

    #[test]
    fn count_limit_defers_until_the_oldest_leaves() {
        let l = ledger(&[(1000, 10), (2000, 10), (3000, 10)]);
        assert_eq!(l.admit(5000, 10, 4, 1000), Admission::Now);
        match l.admit(5000, 10, 3, 1000) {
            Admission::Later(t, why) => {
                assert_eq!(t, 1000 + WINDOW_SECS);
                assert!(why.contains("3 reports"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // After the first left the window, one slot is free.
        assert_eq!(l.admit(1001 + WINDOW_SECS, 10, 3, 1000), Admission::Now);
    }

    #[test]
    fn byte_limit() {
        let l = ledger(&[(1000, 600), (2000, 300)]);
        assert_eq!(l.admit(3000, 100, 32, 1000), Admission::Now);
        assert_eq!(
            l.admit(3000, 101, 32, 1000),
            Admission::Later(
                1000 + WINDOW_SECS,
                "daily limit of 1000 bytes reached (900 sent in the last 24 h)".into()
            )
        );
        assert!(matches!(l.admit(3000, 1001, 32, 1000), Admission::Never(_)));
        assert!(matches!(l.admit(3000, 1, 0, 1000), Admission::Never(_)));
        let u = l.usage(3000, 32, 1000);
        assert_eq!((u.reports, u.bytes), (2, 900));
        assert_eq!(l.usage(2000 + WINDOW_SECS, 32, 1000).reports, 0);
    }

    #[test]
    fn old_items_are_forgotten_on_write() {
        let mut l = ledger(&[(1000, 1)]);
        l.record("x", 1000 + WINDOW_SECS + 5, 1);
        assert_eq!(l.sent.len(), 1);
    }
}
