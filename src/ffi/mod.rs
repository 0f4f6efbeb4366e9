//! The C ABI. Every `extern "C"` body runs inside one of the helpers below,
//! which catch panics (so none crosses into C), turn errors into a status
//! code and record the message for `kmq_last_error`. Pointers are checked
//! here; nothing below this module knows that C exists.
//!
//! Safety, once for the whole module: every `unsafe fn` here states its
//! caller's contract in its `# Safety` section, and its body does only
//! what that contract allows: it reads and writes the pointers it was
//! given, passing them on to the helpers whose own contracts say the same.
//! So the bodies are unsafe contexts as they stand
//! (`unsafe_op_in_unsafe_fn` is allowed here only), instead of each
//! wrapping itself in an `unsafe` block under the same comment.

#![allow(non_camel_case_types)]
#![allow(unsafe_op_in_unsafe_fn)]

use crate::error::{Error, ErrorKind, Result};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

// The header lists the functions in the order of these modules: the
// order a C programmer reads them in.
// In the order of the C header's parts (cbindgen follows it).
pub mod config;
pub mod producer;
pub mod stats;
pub mod consumer;
pub mod readiness;
pub mod console;
pub mod log;
pub mod events;

/// Status of a kapokmq call. `KMQ_OK` is 0; every other value is an error
/// whose message `kmq_last_error()` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kmq_status {
    KMQ_OK = 0,
    /// NULL pointer, bad name, bad config key or value, non-UTF-8 data.
    KMQ_ERR_INVALID_ARGUMENT = 1,
    /// The secret key was rejected (by the server or the registry).
    KMQ_ERR_AUTH = 2,
    /// Cannot reach the server, or the connection or handshake failed.
    KMQ_ERR_CONNECT = 3,
    /// The operation did not complete within its time limit.
    KMQ_ERR_TIMEOUT = 4,
    /// The handle is closed, or its connection is lost for good.
    KMQ_ERR_CLOSED = 5,
    /// The producer already holds `queue_max` unconfirmed messages.
    KMQ_ERR_QUEUE_FULL = 6,
    /// The peer broke the protocol.
    KMQ_ERR_PROTOCOL = 7,
    /// The registry answered, but no MQ node is alive.
    KMQ_ERR_NO_NODES = 8,
    /// A bug in kapokmq, caught before it reached the caller: please report it.
    KMQ_ERR_INTERNAL = 9,
}

use kmq_status::*;

impl kmq_status {
    /// Every status, in the order of their values (0, 1, ...).
    const ALL: [kmq_status; 10] = [
        KMQ_OK,
        KMQ_ERR_INVALID_ARGUMENT,
        KMQ_ERR_AUTH,
        KMQ_ERR_CONNECT,
        KMQ_ERR_TIMEOUT,
        KMQ_ERR_CLOSED,
        KMQ_ERR_QUEUE_FULL,
        KMQ_ERR_PROTOCOL,
        KMQ_ERR_NO_NODES,
        KMQ_ERR_INTERNAL,
    ];
}

// Each status sits at the index of its value, the last one included.
const _: () = {
    let mut i = 0;
    while i < kmq_status::ALL.len() {
        assert!(kmq_status::ALL[i] as usize == i);
        i += 1;
    }
    assert!(KMQ_ERR_INTERNAL as usize == kmq_status::ALL.len() - 1);
};

/// The statuses' names as C strings: their names in the enum.
static STATUS_NAMES: std::sync::LazyLock<Vec<CString>> = std::sync::LazyLock::new(|| {
    kmq_status::ALL.iter().map(|s| CString::new(format!("{s:?}")).unwrap_or_default()).collect()
});

impl From<ErrorKind> for kmq_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => KMQ_ERR_INVALID_ARGUMENT,
            ErrorKind::Auth => KMQ_ERR_AUTH,
            ErrorKind::Connect => KMQ_ERR_CONNECT,
            ErrorKind::Timeout => KMQ_ERR_TIMEOUT,
            ErrorKind::Closed => KMQ_ERR_CLOSED,
            ErrorKind::QueueFull => KMQ_ERR_QUEUE_FULL,
            ErrorKind::Protocol => KMQ_ERR_PROTOCOL,
            ErrorKind::NoNodes => KMQ_ERR_NO_NODES,
            ErrorKind::Internal => KMQ_ERR_INTERNAL,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: String) {
    // An interior NUL would cut the message short; show it instead.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

use crate::error::panic_text as panic_message;

/// Runs the body of a status-returning function.
pub(crate) fn call(what: &str, f: impl FnOnce() -> Result<()>) -> kmq_status {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => KMQ_OK,
        Ok(Err(e)) => {
            set_last_error(format!("{what}: {e}"));
            e.kind().into()
        }
        Err(p) => {
            set_last_error(format!("{what}: internal error (please report): {}", panic_message(&*p)));
            KMQ_ERR_INTERNAL
        }
    }
}

/// Runs the body of a function that returns a value and has no status:
/// on error or panic it records the message and returns `fallback`.
pub(crate) fn call_value<T>(what: &str, fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_last_error(format!("{what}: {e}"));
            fallback
        }
        Err(p) => {
            set_last_error(format!("{what}: internal error (please report): {}", panic_message(&*p)));
            fallback
        }
    }
}

/// A required pointer argument.
pub(crate) fn non_null<T>(p: *const T, name: &str) -> Result<*const T> {
    if p.is_null() {
        Err(Error::invalid(format!("{name} is NULL")))
    } else {
        Ok(p)
    }
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    non_null(p, name)?;
    // SAFETY: non-NULL, and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    utf8(bytes, name)
}

/// `len` bytes of UTF-8 text.
///
/// # Safety
/// `p` must be NULL or point to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes_arg<'a>(p: *const c_char, len: usize, name: &str) -> Result<&'a str> {
    non_null(p, name)?;
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{name}: length {len} is not a valid size")));
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract, and
    // `len` fits a slice.
    utf8(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }, name)
}

fn utf8<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid(format!(
            "{name} is not valid UTF-8 (bad byte at offset {}); KapokMQ carries text only",
            e.valid_up_to()
        ))
    })
}

// Handles are used from any thread at once: the types behind them must
// stay Send + Sync, or this stops compiling.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<producer::kmq_producer>();
    send_sync::<consumer::kmq_consumer>();
    send_sync::<console::kmq_console>();
    send_sync::<config::kmq_config>();
    send_sync::<crate::Producer>();
    send_sync::<crate::Consumer>();
};

/// Handle types carry a tag so that a pointer of the wrong kind (easy to
/// pass through an FFI package with untyped pointers) is refused.
///
/// Implementors are `#[repr(C)]` with `tag: u64` as their first field.
pub(crate) trait Tagged {
    const TAG: u64;
    const NAME: &'static str;
}

/// Borrows a handle argument after checking it is non-NULL and of its type.
///
/// # Safety
/// `p` must be NULL or a pointer this library handed out and not yet freed.
pub(crate) unsafe fn handle<'a, T: Tagged>(p: *const T, name: &str) -> Result<&'a T> {
    non_null(p, name)?;
    // Every handle type is `repr(C)` with its tag first, so the tag can be
    // read before the pointer is trusted to be a `T`.
    // SAFETY: non-NULL and, by the caller's contract, a handle of ours,
    // which starts with a u64.
    if unsafe { p.cast::<u64>().read() } != T::TAG {
        return Err(Error::invalid(format!("{name} is not a live {} handle", T::NAME)));
    }
    // SAFETY: the tag says it is a live `T`.
    Ok(unsafe { &*p })
}

/// What a client handle (producer, consumer, console) is, as its type
/// tag and its names in messages.
#[doc(hidden)]
pub trait ClientKind {
    const TAG: u64;
    /// The C type's name (`kmq_producer`).
    const TYPE: &'static str;
    /// The argument's name in messages (`producer`).
    const ARG: &'static str;
    /// Closes the object when its handle is freed.
    fn close(&self);
}

/// The object behind a client handle: its type tag first (read before the
/// pointer is trusted), the fork generation it was made in (a handle made
/// before fork() fails in the child, whose threads it would wait for), and
/// the object, shared with every call in progress, so that freeing the
/// handle under a call blocked in another thread frees nothing that call
/// still uses: the last of them to return drops the object.
#[repr(C)]
pub struct Client<T> {
    tag: u64,
    fork_generation: u64,
    inner: Arc<T>,
}

impl<T: ClientKind> Tagged for Client<T> {
    const TAG: u64 = T::TAG;
    const NAME: &'static str = T::TYPE;
}

impl<T: ClientKind> Client<T> {
    /// The object behind `p`, shared for the duration of one call.
    ///
    /// # Safety
    /// `p` must be NULL or a handle this library handed out, not yet freed.
    pub(crate) unsafe fn get(p: *const Self) -> Result<Arc<T>> {
        // SAFETY: the caller's contract above.
        let c = unsafe { handle(p, T::ARG)? };
        crate::sync::check_same_process(c.fork_generation, &format!("the {}", T::ARG))?;
        Ok(c.inner.clone())
    }

    /// Makes the object with `make` and hands out its handle through
    /// `out` (NULL there first, so that a failure leaves NULL).
    ///
    /// # Safety
    /// `out` must be NULL or writable.
    pub(crate) unsafe fn hand_out(out: *mut *mut Self, make: impl FnOnce() -> Result<T>) -> Result<()> {
        non_null(out, "out")?;
        // SAFETY: non-NULL, and writable by the caller's contract.
        unsafe { put(out, std::ptr::null_mut()) };
        let c = Client { tag: T::TAG, fork_generation: crate::sync::fork_generation(), inner: Arc::new(make()?) };
        // SAFETY: as above.
        unsafe { put(out, Box::into_raw(Box::new(c))) };
        Ok(())
    }

    /// Closes and frees the handle (see `free_handle`); a handle made
    /// before fork() is left to the parent process.
    ///
    /// # Safety
    /// `p` must be NULL or a handle of this type not yet freed.
    pub(crate) unsafe fn free(p: *mut Self) {
        // SAFETY: the caller's contract above.
        unsafe {
            free_handle(p, |h| h.fork_generation == crate::sync::fork_generation(), |h| h.inner.close());
        }
    }
}

/// Frees a handle made with `Box::into_raw`: marks it dead, runs `close`
/// (which wakes the calls blocked on it; they hold their own reference to
/// what it owns), and frees it, unless it was made before fork() in a
/// parent process (`made_here` false), which owns it.
///
/// # Safety
/// `p` must be NULL or a handle of type `T` not yet freed.
pub(crate) unsafe fn free_handle<T: Tagged>(p: *mut T, made_here: impl FnOnce(&T) -> bool, close: impl FnOnce(&T)) {
    // SAFETY: the caller's contract above.
    if unsafe { handle(p, T::NAME) }.is_err() {
        return;
    }
    // SAFETY: a live handle of ours (checked above); every handle type is
    // `repr(C)` with its tag first, and it was made with `Box::into_raw`.
    let boxed = unsafe {
        p.cast::<u64>().write(0);
        Box::from_raw(p)
    };
    if made_here(&boxed) {
        close(&boxed);
        drop(boxed);
    } else {
        std::mem::forget(boxed);
    }
}

/// Writes `value` through an out-pointer.
///
/// # Safety
/// `out` must be valid for writes: non-NULL (checked with `non_null`
/// first) and pointing where the caller's contract says it may write.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: the caller's contract above.
    unsafe { out.write(value) }
}

/// Copies `text` into a fixed-size C string: NUL-terminated, cut at a
/// character boundary when longer, an interior NUL shown as a space.
pub(crate) fn copy_text(dst: &mut [c_char], text: &str) {
    let Some(room) = dst.len().checked_sub(1) else {
        return;
    };
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for (d, &b) in dst.iter_mut().zip(&text.as_bytes()[..end]) {
        *d = if b == 0 { b' ' } else { b } as c_char;
    }
    dst[end] = 0;
}

/// Copies `text` into a NUL-terminated string the caller frees with
/// `kmq_string_free`.
pub(crate) fn owned_c_string(text: String) -> *mut c_char {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default().into_raw()
}

/// The name of a status code, e.g. "KMQ_ERR_AUTH"; a static string.
/// Takes any 32-bit value, so that a status read from a file or another
/// language can be passed as it is: a value that is not a kmq_status gives
/// "KMQ_UNKNOWN_STATUS" (never NULL).
#[no_mangle]
pub extern "C" fn kmq_status_str(s: i32) -> *const c_char {
    call_value("kmq_status_str", c"KMQ_UNKNOWN_STATUS".as_ptr(), || {
        let name = usize::try_from(s).ok().and_then(|i| STATUS_NAMES.get(i));
        Ok(name.map_or(c"KMQ_UNKNOWN_STATUS".as_ptr(), |n| n.as_ptr()))
    })
}

/// The message of the last error on this thread, `""` if none. Valid until
/// the next kapokmq call on this thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn kmq_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library's version, `"MAJOR.MINOR.PATCH"`; a static string.
#[no_mangle]
pub extern "C" fn kmq_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Frees a string kapokmq handed out (statistics, console answers). NULL
/// does nothing.
///
/// # Safety
/// `s` must be NULL or a string from kapokmq not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kmq_string_free(s: *mut c_char) {
    call_value("kmq_string_free", (), || {
        if !s.is_null() {
            drop(CString::from_raw(s));
        }
        Ok(())
    })
}
