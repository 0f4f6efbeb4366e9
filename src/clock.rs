//! The clock of message deadlines, read once per send. `Instant::now` costs
//! a good part of a send (figures in docs/bench/README.md); Linux's coarse
//! monotonic clock is the same clock read at the resolution of the
//! scheduler tick, for a fraction of that.
//! A deadline is never early: the reading is within one tick of the true
//! time, and the tick is added; it may be up to two ticks late (a few ms,
//! far below any message timeout that matters).

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// When something due `after` from now falls due: never earlier than
/// `Instant::now() + after`, and at most two ticks of the coarse clock
/// later. The first call in each tick of the coarse clock (per
/// `last_tick`) reads the precise clock instead and says so with `true`:
/// a sample of exactly timed messages, at most one per tick, for the
/// confirm latency. Every call is exact where there is no coarse clock.
pub(crate) fn deadline_sampled(after: Duration, last_tick: &AtomicU64) -> (Instant, bool) {
    imp::sampled(after, last_tick)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{AtomicU64, Duration, Instant};
    use std::sync::atomic::Ordering;
    use std::sync::OnceLock;

    /// An `Instant` and the coarse clock's reading taken with it, and
    /// the coarse clock's resolution.
    struct Base {
        instant: Instant,
        coarse: Duration,
        tick: Duration,
    }

    fn read(
        clock: libc::clockid_t,
        f: unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int,
    ) -> Option<Duration> {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid timespec for the call to write.
        (unsafe { f(clock, &mut ts) } == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    fn base() -> Option<&'static Base> {
        static BASE: OnceLock<Option<Base>> = OnceLock::new();
        BASE.get_or_init(|| {
            let tick = read(libc::CLOCK_MONOTONIC_COARSE, libc::clock_getres)?;
            let coarse = read(libc::CLOCK_MONOTONIC_COARSE, libc::clock_gettime)?;
            Some(Base { instant: Instant::now(), coarse, tick })
        })
        .as_ref()
    }

    pub(super) fn sampled(after: Duration, last_tick: &AtomicU64) -> (Instant, bool) {
        let (Some(base), Some(now)) = (base(), read(libc::CLOCK_MONOTONIC_COARSE, libc::clock_gettime)) else {
            return (Instant::now() + after, true);
        };
        let tick = now.as_nanos() as u64;
        if last_tick.load(Ordering::Relaxed) != tick {
            last_tick.store(tick, Ordering::Relaxed);
            return (Instant::now() + after, true);
        }
        // Both readings are within a tick of the true time, so their
        // difference is within two; one tick added keeps it not early.
        (base.instant + now.saturating_sub(base.coarse) + base.tick + after, false)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{AtomicU64, Duration, Instant};

    pub(super) fn sampled(after: Duration, _last_tick: &AtomicU64) -> (Instant, bool) {
        (Instant::now() + after, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_never_early_and_late_by_ticks_at_most() {
        let last = AtomicU64::new(0);
        for _ in 0..10_000 {
            let before = Instant::now();
            let (due, _) = deadline_sampled(Duration::from_millis(100), &last);
            let after = Instant::now();
            assert!(
                due >= before + Duration::from_millis(100),
                "early by {:?}",
                before + Duration::from_millis(100) - due
            );
            assert!(due <= after + Duration::from_millis(100) + Duration::from_millis(30), "late by {:?}", due - after);
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_sample_is_exact_and_comes_once_a_tick() {
        let last = AtomicU64::new(0);
        let before = Instant::now();
        let (due, exact) = deadline_sampled(Duration::from_millis(100), &last);
        assert!(exact, "the first call of a tick is exact");
        assert!(due >= before + Duration::from_millis(100) && due <= Instant::now() + Duration::from_millis(100));
        let mut exact_calls = 0;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(50) {
            let (due, exact) = deadline_sampled(Duration::from_millis(100), &last);
            assert!(due >= started + Duration::from_millis(100));
            exact_calls += exact as u32;
        }
        // About one per tick (1-10 ms): far fewer than the calls made.
        assert!((1..=60).contains(&exact_calls), "{exact_calls} exact calls in 50 ms");
    }
}
