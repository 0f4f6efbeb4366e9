//! Readiness descriptors, for applications that run an event loop (epoll,
//! libuv, asyncio) instead of blocking a thread in kmq_receive or
//! kmq_poll_reports.

use super::call_value;
use super::consumer::{consumer, kmq_consumer};
use super::producer::{kmq_producer, producer};
use std::ffi::c_int;

/// A file descriptor that polls readable (poll, epoll, select;
/// level-triggered) while kmq_receive(c, 0, &m) would hand out a message
/// or the consumer is closed, and not readable once every buffered message
/// has been taken. Wait on it for POLLIN, then call kmq_receive with
/// timeout 0 until it returns KMQ_ERR_TIMEOUT.
///
/// On Windows it is a SOCKET (cast to int without loss: Windows keeps a
/// handle's significant bits in 32): wait on it with select() or WSAPoll()
/// for readability, or hand it to an event loop that takes sockets.
///
/// The consumer owns the descriptor: never read, write or close it. It is
/// made on the first call (later calls return the same one) and stays
/// open until kmq_consumer_free. Never blocks.
///
/// Returns -1 when c is NULL or not a live consumer, or when no descriptor
/// can be made (kmq_last_error says why).
///
/// # Safety
/// `c` must be NULL or a live consumer.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_fd(c: *mut kmq_consumer) -> c_int {
    call_value("kmq_consumer_fd", -1, || consumer(c)?.readiness_fd())
}

/// As kmq_consumer_fd (a SOCKET on Windows), for delivery reports: readable while
/// kmq_poll_reports(p, ..., 0, ...) would hand out reports or the producer
/// is closed, not readable once every report has been taken.
///
/// Returns -1 when p is NULL or not a live producer, or when no descriptor
/// can be made (kmq_last_error says why). Never blocks.
///
/// # Safety
/// `p` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_fd(p: *mut kmq_producer) -> c_int {
    call_value("kmq_producer_fd", -1, || producer(p)?.readiness_fd())
}
