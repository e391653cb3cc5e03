//! Retry delays: exponential backoff with "equal jitter", so a fleet of
//! machines that lost the server at the same moment does not come back in
//! lockstep, while each machine still waits at least half the nominal delay.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Nominal delay before attempt `attempt + 1` after `attempt` failures
/// (`attempt` ≥ 1): `base · 2^(attempt-1)`, at most `max`.
pub fn nominal(attempt: u32, base: u64, max: u64) -> u64 {
    let shift = attempt.saturating_sub(1).min(63);
    base.max(1).saturating_mul(1u64 << shift).min(max.max(1))
}

/// The delay with jitter: `nominal/2 + jitter · nominal/2`, with `jitter`
/// in `[0, 1)`; so always within `[nominal/2, nominal]`.
pub fn delay(attempt: u32, base: u64, max: u64, jitter: f64) -> u64 {
    let n = nominal(attempt, base, max);
    let half = n / 2;
    let j = jitter.clamp(0.0, 0.999_999);
    // Precision loss above 2^53 seconds does not matter.
    n - half + (half as f64 * j) as u64
}

/// A random jitter in `[0, 1)` from the standard library's per-process
/// random hash keys (no extra dependency, not for cryptography).
pub fn random_jitter() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let v: Vec<u64> = (1..=10).map(|a| nominal(a, 60, 3600)).collect();
        assert_eq!(v, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        assert_eq!(nominal(200, 60, 3600), 3600);
        assert_eq!(nominal(64, u64::MAX / 2, u64::MAX), u64::MAX);
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        assert_eq!(delay(1, 60, 3600, 0.0), 30);
        assert_eq!(delay(1, 60, 3600, 0.5), 45);
        assert!(delay(1, 60, 3600, 1.0) <= 60);
        for _ in 0..1000 {
            let j = random_jitter();
            assert!((0.0..1.0).contains(&j));
            let d = delay(3, 10, 1000, j);
            assert!((20..=40).contains(&d), "{d}");
        }
    }

    #[test]
    fn jitter_varies() {
        let a: Vec<u64> = (0..50)
            .map(|_| delay(5, 100, 100_000, random_jitter()))
            .collect();
        assert!(a.iter().any(|&x| x != a[0]), "no spread: {a:?}");
    }
}
