//! Confirm latency over a sliding minute, in a fixed-size histogram: no
//! allocation per message, a few adds per record, sans I/O (the caller
//! passes the time).
//!
//! Values are microseconds, kept in log-linear buckets: exact below 8 µs,
//! then eight buckets per power of two, so a reported percentile is at
//! most 12.5 % above the true one (it is the top of its bucket, and never
//! above the largest value seen). The minute is six slots of ten seconds;
//! a slot is cleared when its time comes round again, so a snapshot covers
//! the last 50 to 60 seconds.

use std::time::{Duration, Instant};

/// Buckets per power of two, and the values below which buckets are exact.
const SUB: u64 = 8;
/// Powers of two covered above the exact range: up to 2^40 µs (12 days).
const POWERS: usize = 37;
const BUCKETS: usize = SUB as usize * (POWERS + 1);
const SLOTS: usize = 6;
const SLOT_LEN: Duration = Duration::from_secs(10);

/// The window's span, for the documentation of the figures.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Slot {
    /// Which ten seconds since `base` the slot holds.
    epoch: u64,
    counts: [u32; BUCKETS],
    count: u64,
    max_us: u64,
}

impl Slot {
    const EMPTY: Slot = Slot { epoch: u64::MAX, counts: [0; BUCKETS], count: 0, max_us: 0 };
}

/// Percentiles of the values recorded over the last minute (0 when none
/// was), and every value ever recorded as a count and a sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Values in the window.
    pub count: u64,
    /// Every value recorded since the start, and their sum.
    pub total_count: u64,
    pub total_sum_us: u64,
}

pub(crate) struct LatencyWindow {
    base: Instant,
    slots: Box<[Slot; SLOTS]>,
    total_count: u64,
    total_sum_us: u64,
}

fn bucket(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let power = 63 - us.leading_zeros() as u64; // at least 3
    let sub = (us >> (power - 3)) & (SUB - 1);
    ((power - 2) * SUB + sub).min(BUCKETS as u64 - 1) as usize
}

/// The largest value that falls in bucket `i`.
fn bucket_top(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let power = i / SUB + 2;
    let sub = i % SUB;
    ((SUB + sub) << (power - 3)) + (1 << (power - 3)) - 1
}

impl LatencyWindow {
    pub fn new(base: Instant) -> Self {
        LatencyWindow { base, slots: Box::new([Slot::EMPTY; SLOTS]), total_count: 0, total_sum_us: 0 }
    }

    fn epoch(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.base).as_secs()) / SLOT_LEN.as_secs()
    }

    /// Records one value, taken at `now`.
    pub fn record(&mut self, now: Instant, value: Duration) {
        let us = value.as_micros().min(u64::MAX as u128) as u64;
        let epoch = self.epoch(now);
        let slot = &mut self.slots[(epoch % SLOTS as u64) as usize];
        if slot.epoch != epoch {
            *slot = Slot { epoch, ..Slot::EMPTY };
        }
        slot.counts[bucket(us)] += 1;
        slot.count += 1;
        slot.max_us = slot.max_us.max(us);
        self.total_count += 1;
        self.total_sum_us = self.total_sum_us.saturating_add(us);
    }

    /// The figures of the slots still inside the minute at `now`.
    pub fn summary(&self, now: Instant) -> LatencySummary {
        let current = self.epoch(now);
        let live = self.slots.iter().filter(|s| s.epoch <= current && current - s.epoch < SLOTS as u64);
        let mut counts = [0u64; BUCKETS];
        let (mut count, mut max_us) = (0, 0);
        for s in live {
            for (sum, c) in counts.iter_mut().zip(s.counts.iter()) {
                *sum += u64::from(*c);
            }
            count += s.count;
            max_us = max_us.max(s.max_us);
        }
        let quantile = |q: f64| {
            if count == 0 {
                return 0;
            }
            let rank = ((q * count as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return bucket_top(i).min(max_us);
                }
            }
            max_us
        };
        LatencySummary {
            p50_us: quantile(0.50),
            p90_us: quantile(0.90),
            p99_us: quantile(0.99),
            max_us,
            count,
            total_count: self.total_count,
            total_sum_us: self.total_sum_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_within_an_eighth() {
        for us in (0..100_000u64).chain([1 << 20, (1 << 30) + 12345, 1 << 39]) {
            let i = bucket(us);
            assert!(bucket_top(i) >= us, "{us} above the top of its bucket {i}");
            assert!(bucket_top(i) - us <= us / 8, "{us}: bucket {i} tops at {}", bucket_top(i));
            if i > 0 {
                assert!(bucket_top(i - 1) < us, "{us} also fits bucket {}", i - 1);
            }
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let t0 = Instant::now();
        let mut w = LatencyWindow::new(t0);
        for us in 1..=1000u64 {
            w.record(t0, Duration::from_micros(us));
        }
        let s = w.summary(t0);
        assert_eq!(s.count, 1000);
        assert_eq!(s.max_us, 1000);
        for (got, want) in [(s.p50_us, 500), (s.p90_us, 900), (s.p99_us, 990)] {
            assert!(got >= want && got <= want + want / 8, "{got} for {want}");
        }
        assert_eq!(s.total_sum_us, 500_500);
    }

    #[test]
    fn the_window_forgets_what_is_older_than_a_minute() {
        let t0 = Instant::now();
        let mut w = LatencyWindow::new(t0);
        w.record(t0, Duration::from_millis(900));
        let later = t0 + Duration::from_secs(35);
        w.record(later, Duration::from_micros(100));
        assert_eq!(w.summary(later).max_us, 900_000);
        assert_eq!(w.summary(later).count, 2);
        let gone = t0 + Duration::from_secs(61);
        let s = w.summary(gone);
        assert_eq!((s.count, s.max_us), (1, 100));
        // A slot's turn coming round again clears it before it is used.
        w.record(t0 + Duration::from_secs(62), Duration::from_micros(7));
        let s = w.summary(t0 + Duration::from_secs(62));
        assert_eq!((s.count, s.max_us, s.total_count), (2, 100, 3));
        let empty = w.summary(t0 + Duration::from_secs(200));
        assert_eq!((empty.count, empty.p99_us, empty.max_us), (0, 0, 0));
    }
}
