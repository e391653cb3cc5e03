//! Resolve overlapping intervals by priority, in O(n log n).
//!
//! Both the flattened-format index (a later chunk overrides an earlier one)
//! and the ELF segment map (a direct-map segment wins over the kernel-text
//! alias of the same bytes) need the same thing: from a list of possibly
//! overlapping `[start, end)` intervals, each carrying a base offset, compute
//! the non-overlapping pieces where, at every point, the interval with the
//! best (lowest) priority wins. A sweep over sorted endpoints with a heap of
//! active intervals does it without quadratic behaviour on hostile input.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One input interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interval {
    /// First covered key (logical offset, physical address).
    pub start: u64,
    /// One past the last covered key.
    pub end: u64,
    /// Lower wins where intervals overlap.
    pub priority: u64,
    /// Caller's index for the interval (returned with each piece).
    pub id: usize,
}

/// One resolved, non-overlapping piece of a winning interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// First key of the piece.
    pub start: u64,
    /// One past the last key of the piece.
    pub end: u64,
    /// `Interval::id` of the interval that won here.
    pub id: usize,
}

/// Resolve `input` into sorted non-overlapping pieces. Empty intervals are
/// ignored. Adjacent pieces of the same interval are merged.
pub(crate) fn resolve(input: &[Interval]) -> Vec<Piece> {
    // Event points: each start and end. Sorting indices by start lets us add
    // intervals as the sweep reaches them; ends are handled lazily by the heap.
    let mut by_start: Vec<usize> = (0..input.len())
        .filter(|&i| input[i].start < input[i].end)
        .collect();
    by_start.sort_by_key(|&i| input[i].start);
    let mut points: Vec<u64> = Vec::with_capacity(by_start.len() * 2);
    for &i in &by_start {
        points.push(input[i].start);
        points.push(input[i].end);
    }
    points.sort_unstable();
    points.dedup();

    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut next = 0usize;
    let mut out: Vec<Piece> = Vec::new();
    for w in points.windows(2) {
        let (p, q) = (w[0], w[1]);
        while next < by_start.len() && input[by_start[next]].start <= p {
            let i = by_start[next];
            heap.push(Reverse((input[i].priority, i)));
            next += 1;
        }
        // Drop intervals that ended at or before p.
        while let Some(Reverse((_, i))) = heap.peek() {
            if input[*i].end <= p {
                heap.pop();
            } else {
                break;
            }
        }
        if let Some(Reverse((_, i))) = heap.peek() {
            let id = input[*i].id;
            match out.last_mut() {
                Some(last) if last.id == id && last.end == p => last.end = q,
                _ => out.push(Piece {
                    start: p,
                    end: q,
                    id,
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: u64, end: u64, priority: u64, id: usize) -> Interval {
        Interval {
            start,
            end,
            priority,
            id,
        }
    }

    #[test]
    fn lower_priority_wins_and_gaps_stay() {
        let p = resolve(&[iv(0, 100, 1, 0), iv(50, 150, 0, 1), iv(200, 300, 5, 2)]);
        assert_eq!(
            p,
            vec![
                Piece {
                    start: 0,
                    end: 50,
                    id: 0
                },
                Piece {
                    start: 50,
                    end: 150,
                    id: 1
                },
                Piece {
                    start: 200,
                    end: 300,
                    id: 2
                },
            ]
        );
    }

    #[test]
    fn covered_interval_reappears_after_winner_ends() {
        let p = resolve(&[iv(0, 100, 1, 0), iv(10, 20, 0, 1), iv(5, 5, 0, 9)]);
        assert_eq!(
            p,
            vec![
                Piece {
                    start: 0,
                    end: 10,
                    id: 0
                },
                Piece {
                    start: 10,
                    end: 20,
                    id: 1
                },
                Piece {
                    start: 20,
                    end: 100,
                    id: 0
                },
            ]
        );
    }

    #[test]
    fn many_identical_intervals_are_fast() {
        let v: Vec<Interval> = (0..100_000).map(|i| iv(0, 1 << 40, i as u64, i)).collect();
        let p = resolve(&v);
        assert_eq!(
            p,
            vec![Piece {
                start: 0,
                end: 1 << 40,
                id: 0
            }]
        );
    }
}
