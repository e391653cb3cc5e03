//! Fixed-window request budgets per key (client address, token).
//!
//! A window per key and minute is coarse but needs no timer task and one
//! small map entry per active key; that is enough to keep one leaked token
//! or one noisy address from filling the disk, which is all these limits are
//! for. Honest clients are never hurt: `panicdump submit` keeps its queue
//! and honours `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Length of one budget window.
const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked keys, expired windows are dropped first, so
/// keys that come and go cannot grow the map without bound.
const PRUNE_ABOVE: usize = 10_000;

/// Requests counted per key in the current window.
#[derive(Debug)]
pub struct MinuteLimiter<K> {
    windows: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K> Default for MinuteLimiter<K> {
    fn default() -> Self {
        MinuteLimiter {
            windows: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash> MinuteLimiter<K> {
    /// Count one request of `key` against `per_minute` (0: unlimited).
    /// `Err` holds the seconds until the key's window ends.
    pub fn admit(&self, key: K, per_minute: u32) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, used) = map.entry(key).or_insert((now, 0));
        let age = now.duration_since(*start);
        if age >= WINDOW {
            *start = now;
            *used = 0;
        }
        if *used >= per_minute {
            let left = WINDOW.saturating_sub(now.duration_since(*start));
            // Round up: a client that waits exactly this long is admitted.
            return Err(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        }
        *used += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_key_and_unlimited() {
        let l = MinuteLimiter::default();
        assert!(l.admit("a", 2).is_ok());
        assert!(l.admit("a", 2).is_ok());
        let wait = l.admit("a", 2).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another key has its own budget; 0 means no limit.
        assert!(l.admit("b", 2).is_ok());
        for _ in 0..100 {
            assert!(l.admit("c", 0).is_ok());
        }
    }
}
