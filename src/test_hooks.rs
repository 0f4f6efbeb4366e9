//! Test hooks, in builds with the `test-hooks` feature only: panics on
//! demand inside a link task, for the tests of what a panicking task
//! leaves behind (tests/panics.rs). A shipped library has none.

use std::sync::atomic::{AtomicBool, Ordering};

static INJECTED_PANIC: AtomicBool = AtomicBool::new(false);
static INJECTED_ACK_PANIC: AtomicBool = AtomicBool::new(false);

/// Test hook: the next link that handles a frame from its server panics
/// there, once. For the tests of what a panicking link task leaves behind.
pub fn inject_link_panic() {
    INJECTED_PANIC.store(true, Ordering::Relaxed);
}

/// Test hook: the next consumer link that takes acks to write panics
/// before writing them, once.
pub fn inject_ack_writer_panic() {
    INJECTED_ACK_PANIC.store(true, Ordering::Relaxed);
}

fn take_injected(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::Relaxed)
}

/// Panics when a test asked for it (see `inject_link_panic`).
pub(crate) fn link_panic_point() {
    if take_injected(&INJECTED_PANIC) {
        panic!("injected link panic (test hook)");
    }
}

/// Panics when a test asked for it (see `inject_ack_writer_panic`).
pub(crate) fn ack_panic_point() {
    if take_injected(&INJECTED_ACK_PANIC) {
        panic!("injected ack writer panic (test hook)");
    }
}
