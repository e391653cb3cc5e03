//! Retention: keep the last N records, the last D days, at most B bytes.
//! The newest record is never deleted, whatever the policy, so the crash
//! that just happened is always there to look at.

use serde::Serialize;

use crate::error::Result;
use crate::record::{Entry, Store};

/// Limits; `None` means no limit of that sort.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep at most this many records.
    pub max_count: Option<usize>,
    /// Delete records older than this many seconds.
    pub max_age_secs: Option<i64>,
    /// Keep the newest records whose sizes add up to at most this.
    pub max_bytes: Option<u64>,
}

impl Policy {
    /// Defaults for `collect`: 50 records, 90 days, 2 GiB.
    pub fn default_limits() -> Policy {
        Policy {
            max_count: Some(50),
            max_age_secs: Some(90 * 86_400),
            max_bytes: Some(2 << 30),
        }
    }
}

/// Why a record is to be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// More than `max_count` newer records.
    Count,
    /// Older than `max_age_secs`.
    Age,
    /// Newer records already use `max_bytes`.
    Bytes,
}

/// (time, bytes) of one record, oldest first, for [`plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Crash or collection time (Unix seconds).
    pub time: i64,
    /// Size on disk.
    pub bytes: u64,
}

/// Which items to delete (indices into `items`, which must be oldest
/// first), with the reason. Pure, so the policy is tested without disks.
pub fn plan(items: &[Item], policy: &Policy, now: i64) -> Vec<(usize, Reason)> {
    plan_pinned(items, policy, now, |_| false)
}

/// [`plan`] where the items `pinned` says are always kept (as is the
/// newest). Pinned items still count against the limits, so older ones go
/// in their place.
pub fn plan_pinned(
    items: &[Item],
    policy: &Policy,
    now: i64,
    pinned: impl Fn(usize) -> bool,
) -> Vec<(usize, Reason)> {
    let newest = |i: usize| i + 1 == items.len();
    let mut out = Vec::new();
    // Pinned items are kept whatever their age, so they use the budget
    // before any other item is looked at.
    let mut kept = 0usize;
    let mut bytes = 0u64;
    for (_, item) in items
        .iter()
        .enumerate()
        .filter(|&(i, _)| pinned(i) && !newest(i))
    {
        kept += 1;
        bytes = bytes.saturating_add(item.bytes);
    }
    for (rev, item) in items.iter().enumerate().rev() {
        if pinned(rev) && !newest(rev) {
            continue;
        }
        let reason = if newest(rev) {
            None
        } else if policy.max_count.is_some_and(|n| kept >= n) {
            Some(Reason::Count)
        } else if policy
            .max_age_secs
            .is_some_and(|a| now.saturating_sub(item.time) > a)
        {
            Some(Reason::Age)
        } else if policy
            .max_bytes
            .is_some_and(|b| bytes.saturating_add(item.bytes) > b)
        {
            Some(Reason::Bytes)
        } else {
            None
        };
        match reason {
            Some(r) => out.push((rev, r)),
            None => {
                kept += 1;
                bytes = bytes.saturating_add(item.bytes);
            }
        }
    }
    out.reverse();
    out
}

/// A record deleted (or to be deleted, in a dry run) by [`prune`].
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    /// Record id.
    pub id: String,
    /// Why.
    pub reason: Reason,
    /// Bytes freed.
    pub bytes: u64,
}

/// Apply a policy to a store. Unreadable records count as oldest so they
/// go first. With `dry_run`, only report.
pub fn prune(store: &Store, policy: &Policy, now: i64, dry_run: bool) -> Result<Vec<Pruned>> {
    let entries = store.list()?;
    let doomed = plan(&items_of(&entries), policy, now);
    remove(store, &entries, doomed, dry_run)
}

/// Retention after `collect`: like [`prune`], but it never deletes a
/// record named in `keep` (the ones this run just wrote, whatever their
/// crash time) nor an entry whose `record.json` cannot be read (a damaged
/// or foreign directory is not known to be a complete, durable record, so
/// it is neither counted nor touched). Oldest first, as [`plan`] decides.
pub fn prune_after_collect(
    store: &Store,
    policy: &Policy,
    now: i64,
    keep: &[String],
) -> Result<Vec<Pruned>> {
    let entries: Vec<Entry> = store
        .list()?
        .into_iter()
        .filter(|e| e.meta.is_ok())
        .collect();
    let doomed = plan_pinned(&items_of(&entries), policy, now, |i| {
        keep.contains(&entries[i].id)
    });
    remove(store, &entries, doomed, false)
}

/// What [`plan`] needs of each entry.
fn items_of(entries: &[Entry]) -> Vec<Item> {
    entries
        .iter()
        .map(|e| Item {
            time: e.time(),
            bytes: e.bytes,
        })
        .collect()
}

/// Delete the planned entries (unless `dry_run`) and report them.
fn remove(
    store: &Store,
    entries: &[Entry],
    doomed: Vec<(usize, Reason)>,
    dry_run: bool,
) -> Result<Vec<Pruned>> {
    let mut out = Vec::new();
    for (i, reason) in doomed {
        let e = &entries[i];
        if !dry_run {
            store.remove(&e.id)?;
        }
        out.push(Pruned {
            id: e.id.clone(),
            reason,
            bytes: e.bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(spec: &[(i64, u64)]) -> Vec<Item> {
        spec.iter()
            .map(|&(time, bytes)| Item { time, bytes })
            .collect()
    }

    #[test]
    fn by_count() {
        let it = items(&[(1, 1), (2, 1), (3, 1), (4, 1)]);
        let p = Policy {
            max_count: Some(2),
            ..Default::default()
        };
        assert_eq!(
            plan(&it, &p, 10),
            vec![(0, Reason::Count), (1, Reason::Count)]
        );
        let p0 = Policy {
            max_count: Some(0),
            ..Default::default()
        };
        // Never the newest, even with a limit of zero.
        assert_eq!(plan(&it, &p0, 10).len(), 3);
    }

    #[test]
    fn by_age() {
        let day = 86_400;
        let it = items(&[(0, 1), (10 * day, 1), (20 * day, 1)]);
        let p = Policy {
            max_age_secs: Some(15 * day),
            ..Default::default()
        };
        assert_eq!(
            plan(&it, &p, 26 * day),
            vec![(0, Reason::Age), (1, Reason::Age)]
        );
        // All too old: the newest stays anyway.
        assert_eq!(plan(&it, &p, 100 * day).len(), 2);
    }

    #[test]
    fn by_bytes() {
        let it = items(&[(1, 500), (2, 100), (3, 300), (4, 200)]);
        let p = Policy {
            max_bytes: Some(600),
            ..Default::default()
        };
        // Newest 200 + 300 = 500, +100 = 600 fits, +500 does not.
        assert_eq!(plan(&it, &p, 10), vec![(0, Reason::Bytes)]);
        // A newest record bigger than the limit is still kept; older go.
        let it = items(&[(1, 10), (2, 5000)]);
        assert_eq!(plan(&it, &p, 10), vec![(0, Reason::Bytes)]);
    }

    #[test]
    fn pinned_items_stay_and_count() {
        // The oldest item was just written (an old crash collected late):
        // it stays, and counts, so the next-oldest goes instead.
        let it = items(&[(1, 1), (2, 1), (3, 1), (4, 1)]);
        let p = Policy {
            max_count: Some(2),
            ..Default::default()
        };
        assert_eq!(
            plan_pinned(&it, &p, 10, |i| i == 0),
            vec![(1, Reason::Count), (2, Reason::Count)]
        );
    }

    #[test]
    fn none_and_empty() {
        assert!(plan(&[], &Policy::default_limits(), 0).is_empty());
        let it = items(&[(1, 1), (2, 1)]);
        assert!(plan(&it, &Policy::default(), 1 << 40).is_empty());
    }
}
