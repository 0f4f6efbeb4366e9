//! The clock of message deadlines, read once per send. `Instant::now` costs
//! about 30 ns here (a third of a send); Linux's coarse monotonic clock is
//! the same clock read at the resolution of the scheduler tick, for 5 ns.
//! A deadline is never early: the reading is within one tick of the true
//! time, and the tick is added; it may be up to two ticks late (a few ms,
//! far below any message timeout that matters).

use std::time::{Duration, Instant};

/// When something due `after` from now falls due: never earlier than
/// `Instant::now() + after`, and at most two ticks of the coarse clock later.
pub(crate) fn deadline_after(after: Duration) -> Instant {
    imp::now_with_slack(after)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{Duration, Instant};
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

    pub(super) fn now_with_slack(after: Duration) -> Instant {
        let Some(base) = base() else {
            return Instant::now() + after;
        };
        match read(libc::CLOCK_MONOTONIC_COARSE, libc::clock_gettime) {
            // Both readings are within a tick of the true time, so their
            // difference is within two; one tick added keeps it not early.
            Some(now) => base.instant + now.saturating_sub(base.coarse) + base.tick + after,
            None => Instant::now() + after,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{Duration, Instant};

    pub(super) fn now_with_slack(after: Duration) -> Instant {
        Instant::now() + after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_never_early_and_late_by_ticks_at_most() {
        for _ in 0..10_000 {
            let before = Instant::now();
            let due = deadline_after(Duration::from_millis(100));
            let after = Instant::now();
            assert!(
                due >= before + Duration::from_millis(100),
                "early by {:?}",
                before + Duration::from_millis(100) - due
            );
            assert!(due <= after + Duration::from_millis(100) + Duration::from_millis(30), "late by {:?}", due - after);
        }
    }
}
