'use strict';
// One poll() for the whole process. Every waiting consumer and producer
// hands its readiness descriptor (kmq_consumer_fd, kmq_producer_fd) to
// watch(); a single libc poll() with no timeout waits on all of them at once
// on one libuv pool thread (koffi .async), so any number of waiting handles
// holds one pool thread, wakes only when something happened, and holds none
// when nothing is watched (the process can then exit).
//
// poll() takes its set when it starts, so a change to the set (a new watch,
// a cancelled one) writes a byte to a pipe of our own that is always in the
// set: poll returns, and the next one is issued with the new set. A
// descriptor belongs to its handle and is closed when the handle is freed,
// so a watch's callback runs only once its descriptor is out of every
// running poll(): the owner keeps the handle alive (NativeHandle.begin)
// until then.

const { isMainThread } = require('node:worker_threads');
const { koffi, elementIndex } = require('./native');

// The same values on Linux, macOS and the BSDs.
const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const READY = POLLIN | POLLERR | POLLHUP | POLLNVAL;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
/** poll()'s struct pollfd, an array of which is laid out in an Int32Array. */
const POLLFD = koffi.struct({ fd: 'int', events: 'short', revents: 'short' });
/** Where its fields are: fd in 32-bit elements, events and revents in 16-bit ones. */
const POLLFD_INTS = elementIndex(POLLFD, null, Int32Array);
const POLLFD_FD = elementIndex(POLLFD, 'fd', Int32Array);
const POLLFD_SHORTS = elementIndex(POLLFD, null, Int16Array);
const POLLFD_EVENTS = elementIndex(POLLFD, 'events', Int16Array);
const POLLFD_REVENTS = elementIndex(POLLFD, 'revents', Int16Array);
/** poll() failing this many times in a row (it never should) fails the watches. */
const MAX_POLL_FAILURES = 3;
/**
 * How long one poll() may wait. Node ends a worker thread (terminate(),
 * process.exit() there) only once the pool calls it started have returned,
 * and no JavaScript runs then that could wake a poll(): in a worker a
 * poll() that waits without limit would keep it from ever ending. So there
 * it returns at least this often, and the main thread waits without limit.
 */
const POLL_TIMEOUT_MS = isMainThread ? -1 : 200;

let sys = null;

/** libc's poll, pipe, read, write and fcntl, from the running process. */
function libc() {
  if (sys) return sys;
  if (process.platform === 'win32') {
    throw new Error(`kapokmq: waiting for messages and reports needs poll() and pipe(), which ${process.platform} lacks`);
  }
  let lib;
  let fns;
  try {
    // No file name: the symbols of the running process (RTLD_DEFAULT), which
    // links the C library on every POSIX system, glibc or musl.
    lib = koffi.load(null);
    fns = {
      poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
      pipe: lib.func('int pipe(_Out_ int *fds)'),
      read: lib.func('long read(int fd, void *buf, unsigned long count)'),
      write: lib.func('long write(int fd, const void *buf, unsigned long count)'),
      fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
    };
  } catch (e) {
    throw new Error(`kapokmq: cannot load poll() and pipe() from the C library: ${e.message}`);
  }
  sys = { ...fns, lib };
  return sys;
}

/** A pipe whose read end is in every poll() so that writing one byte ends it. */
class Wake {
  #fds = new Int32Array(2);
  #byte = Buffer.alloc(1);
  #drain = Buffer.alloc(64);
  /** A byte was written and not yet read: at most one ever sits in the pipe. */
  #pending = false;

  constructor(c) {
    if (c.pipe(this.#fds) !== 0) throw new Error('kapokmq: pipe() failed: no descriptor to wake poll() with');
    // Not inherited by child processes. Both ends stay blocking: a byte is
    // written only while none is pending, and read only once poll() said
    // it is there, so neither call can wait.
    for (const fd of this.#fds) c.fcntl(fd, F_SETFD, 'int', FD_CLOEXEC);
  }

  get fd() {
    return this.#fds[0];
  }

  /** Ends the running poll(). */
  ring(c) {
    if (this.#pending) return;
    this.#pending = true;
    c.write(this.#fds[1], this.#byte, 1);
  }

  /** After poll() reported the read end readable. */
  drain(c) {
    c.read(this.#fds[0], this.#drain, this.#drain.length);
    this.#pending = false;
  }
}

class Poller {
  /** Watches not yet reported: { fd, callback, cancelled, inPoll }. */
  #watches = new Set();
  /** The poll() in flight: { fds, entries } (fds stays referenced until it returns). */
  #polling = null;
  #startScheduled = false;
  #wake = null;
  #failures = 0;

  /**
   * Calls `callback(err, ready)` once, on the event loop, when `fd` polls
   * readable (ready true: POLLIN, POLLHUP, POLLERR or POLLNVAL) or after the
   * returned cancel() (ready false), in both cases once `fd` is in no running
   * poll() any more. Throws when this platform cannot poll.
   */
  watch(fd, callback) {
    const c = libc();
    if (this.#wake === null) this.#wake = new Wake(c);
    const entry = { fd, callback, cancelled: false, inPoll: false };
    this.#watches.add(entry);
    this.#changed();
    return () => this.#cancel(entry);
  }

  /** How many descriptors are watched (for tests). */
  get size() {
    return this.#watches.size;
  }

  #cancel(entry) {
    if (!this.#watches.has(entry) || entry.cancelled) return;
    entry.cancelled = true;
    if (entry.inPoll) {
      // Reported when the running poll() returns.
      this.#wake.ring(sys);
      return;
    }
    this.#watches.delete(entry);
    process.nextTick(entry.callback, null, false);
  }

  /** The watched set changed: the next poll() must see it. */
  #changed() {
    if (this.#polling !== null) {
      this.#wake.ring(sys);
      return;
    }
    // Watches made in one tick (several consumers waiting at once) go into
    // one poll().
    if (this.#startScheduled) return;
    this.#startScheduled = true;
    process.nextTick(() => {
      this.#startScheduled = false;
      this.#start();
    });
  }

  #start() {
    if (this.#polling !== null || this.#watches.size === 0) return;
    const entries = [...this.#watches];
    const fds = new Int32Array((entries.length + 1) * POLLFD_INTS);
    const events = new Int16Array(fds.buffer);
    fds[POLLFD_FD] = this.#wake.fd;
    events[POLLFD_EVENTS] = POLLIN;
    entries.forEach((e, i) => {
      fds[(i + 1) * POLLFD_INTS + POLLFD_FD] = e.fd;
      events[(i + 1) * POLLFD_SHORTS + POLLFD_EVENTS] = POLLIN;
      e.inPoll = true;
    });
    this.#polling = { fds, entries };
    try {
      sys.poll.async(fds, entries.length + 1, POLL_TIMEOUT_MS, (err, rc) => this.#returned(err, rc));
    } catch (e) {
      // koffi refuses new async calls past its max_async_calls.
      this.#returned(new Error(`kapokmq: poll(): ${e.message}`), -1);
    }
  }

  #returned(err, rc) {
    const { fds, entries } = this.#polling;
    this.#polling = null;
    const revents = new Int16Array(fds.buffer);
    if (!err && rc < 0 && ++this.#failures >= MAX_POLL_FAILURES) {
      err = new Error(`kapokmq: poll() failed ${this.#failures} times in a row`);
    }
    if (!err && rc >= 0) this.#failures = 0;
    if (!err && rc > 0 && (revents[POLLFD_REVENTS] & READY) !== 0) this.#wake.drain(sys);
    entries.forEach((e, i) => {
      e.inPoll = false;
      const ready = !err && rc > 0 && (revents[(i + 1) * POLLFD_SHORTS + POLLFD_REVENTS] & READY) !== 0;
      if (!err && !ready && !e.cancelled) return;
      this.#watches.delete(e);
      // Each on its own tick: a callback that throws does not stop the others.
      process.nextTick(e.callback, err || null, ready);
    });
    // After the callbacks, which may watch again.
    this.#changed();
  }
}

/**
 * How often a watch is reported "look again" on Windows, where there is no
 * poll() over these descriptors from here: they are SOCKETs, which only
 * WSAPoll() takes. Each report costs the owner one call that does not wait.
 */
const CHECK_INTERVAL_MS = 10;

/**
 * The poller on Windows: the same watch() contract, with each watch
 * reported ready after CHECK_INTERVAL_MS (the owner then takes what is
 * there with a call that does not wait, and watches again if nothing was).
 */
class IntervalPoller {
  #watches = new Set();

  watch(fd, callback) {
    const entry = { callback, timer: null };
    entry.timer = setTimeout(() => {
      this.#watches.delete(entry);
      callback(null, true);
    }, CHECK_INTERVAL_MS);
    this.#watches.add(entry);
    return () => {
      if (!this.#watches.delete(entry)) return;
      clearTimeout(entry.timer);
      process.nextTick(entry.callback, null, false);
    };
  }

  get size() {
    return this.#watches.size;
  }
}

/** The process's poller. */
const poller = process.platform === 'win32' ? new IntervalPoller() : new Poller();

module.exports = { poller, Poller, IntervalPoller };
