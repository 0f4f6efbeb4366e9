'use strict';
// The life of one native producer, consumer or console pointer. koffi 3
// pointers are plain BigInts that carry no type, so the pointer never leaves
// this object: it is tagged with its kind when made, and the kind is checked
// when used.
//
// Freeing must wait for every use of the pointer that outlives one call: a
// readiness descriptor of the handle inside a running poll() (the free
// closes it; see readiness.js) and the native close on a pool thread.
// Freeing under them is a use-after-free, so close() closes at once (which
// makes the descriptor poll readable) and the free happens when the last of
// them has ended. The native close itself may wait (a consumer writes out
// its last acks), so it runs on a pool thread and counts as such a use. A
// FinalizationRegistry frees a handle whose owner was garbage-collected
// without close(); the owner is reachable from every pending callback, so
// that only happens when nothing is in flight.

const registry = new FinalizationRegistry((handle) => handle.close());

class NativeHandle {
  #ptr;
  #busy = 0;
  #closed = false;
  #closing = null;
  #freed = false;

  /**
   * @param kind 'producer' | 'consumer' | 'console'
   * @param ptr the pointer the library handed out
   * @param ops { close(ptr), free(ptr) } from native.js
   * @param owner the public object; when it is collected, the handle is freed
   */
  constructor(kind, ptr, ops, owner) {
    if (typeof ptr !== 'bigint' || ptr === 0n) throw new TypeError(`invalid ${kind} pointer`);
    this.kind = kind;
    this.#ptr = ptr;
    this.ops = ops;
    registry.register(owner, this, this);
  }

  get closed() {
    return this.#closed;
  }

  /** The pointer for a call on a `kind` handle; null once closed. */
  ptr(kind) {
    if (kind !== this.kind) throw new TypeError(`a ${this.kind} handle used as a ${kind}`);
    return this.#closed ? null : this.#ptr;
  }

  /** Marks the start of a use of the pointer that outlives this call (see above). */
  begin(kind) {
    const p = this.ptr(kind);
    if (p !== null) this.#busy++;
    return p;
  }

  /** Marks the end of a call started with begin(). */
  end() {
    this.#busy--;
    this.#maybeFree();
  }

  /**
   * Closes the native object (waking blocked calls) off the event loop and
   * resolves once it is closed. `lastUse(ptr)`, if given, runs then on the
   * event loop with the closed, not yet freed pointer (to read what the
   * object still holds). Closing again resolves with the first close.
   */
  close(lastUse) {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    const ptr = this.#ptr;
    const finish = () => {
      try {
        if (lastUse) lastUse(ptr);
      } finally {
        this.end();
      }
    };
    this.#busy++;
    this.#closing = new Promise((resolve) => {
      const closeFn = this.ops.close;
      const done = () => {
        finish();
        resolve();
      };
      if (typeof closeFn.async === 'function') {
        try {
          closeFn.async(ptr, done);
          return;
        } catch {
          // koffi refuses async calls past its max_async_calls: closing
          // here, late, beats never closing.
        }
      }
      closeFn(ptr);
      done();
    });
    return this.#closing;
  }

  #maybeFree() {
    if (this.#closed && this.#busy === 0 && !this.#freed) {
      this.#freed = true;
      registry.unregister(this);
      this.ops.free(this.#ptr);
    }
  }
}

module.exports = { NativeHandle };
