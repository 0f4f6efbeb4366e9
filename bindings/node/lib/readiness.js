'use strict';
// Waiting on one handle's readiness descriptor through the process's poller.
// While a wait is on, the handle counts as busy (NativeHandle.begin), because
// its descriptor is closed when the handle is freed and must not be inside
// a running poll() then; the wait ends (and the handle may be freed) once
// the owner wants nothing more, or the poller reports it cancelled.

const { KapokMQError } = require('./errors');
const { poller } = require('./poller');

/** Any failure as a KapokMQError, as every error of the package is. */
function asKapokMQError(e) {
  return e instanceof KapokMQError ? e : new KapokMQError('KMQ_ERR_INTERNAL', e.message);
}

class Readiness {
  #h;
  #kind;
  #fns;
  #fdFn;
  #fdName;
  #hooks;
  /** The pointer while a wait is on (begun), else null. */
  #ptr = null;
  #fd = -1;
  #cancel = null;

  /**
   * @param handle the NativeHandle
   * @param kind its kind, for handle.begin()
   * @param fns the functions of native.js
   * @param fdFn 'consumerFd' or 'producerFd': which of them gives the descriptor
   * @param fdName its C name, for errors
   * @param hooks { ready(ptr): take what is there, on the event loop;
   *   wanted(): whether to go on waiting; failed(error): the wait cannot go on }
   */
  constructor(handle, kind, fns, fdFn, fdName, hooks) {
    this.#h = handle;
    this.#kind = kind;
    this.#fns = fns;
    this.#fdFn = fdFn;
    this.#fdName = fdName;
    this.#hooks = hooks;
  }

  /** Starts waiting unless a wait is on or the handle is closed. */
  start() {
    if (this.#ptr !== null) return;
    const ptr = this.#h.begin(this.#kind);
    if (ptr === null) return;
    this.#ptr = ptr;
    try {
      if (this.#fd < 0) this.#fd = this.#descriptor(ptr);
      this.#watch();
    } catch (e) {
      this.#stop();
      this.#hooks.failed(asKapokMQError(e));
    }
  }

  /** Stops the wait soon (when nobody waits any more); the handle is let go then. */
  cancel() {
    if (this.#cancel !== null) this.#cancel();
  }

  #descriptor(ptr) {
    const fdFn = this.#fns[this.#fdFn];
    if (typeof fdFn !== 'function') {
      throw new KapokMQError('KMQ_ERR_INTERNAL', `${this.#fdName}: the loaded kapokmq library lacks it; use a newer build`);
    }
    const fd = fdFn(ptr);
    if (fd < 0) {
      throw new KapokMQError('KMQ_ERR_INTERNAL', `${this.#fdName}: ${this.#fns.lastError() || 'no descriptor'}`);
    }
    return fd;
  }

  #watch() {
    this.#cancel = poller.watch(this.#fd, (err, ready) => this.#onReady(err, ready));
  }

  #onReady(err, ready) {
    this.#cancel = null;
    try {
      if (err) {
        this.#hooks.failed(asKapokMQError(err));
      } else {
        if (ready) this.#hooks.ready(this.#ptr);
        if (this.#hooks.wanted()) {
          this.#watch();
          return;
        }
      }
    } catch (e) {
      this.#hooks.failed(asKapokMQError(e));
    }
    this.#stop();
  }

  #stop() {
    this.#ptr = null;
    this.#h.end();
  }
}

module.exports = { Readiness };
