'use strict';
// The life of one native producer, consumer or console pointer. koffi 3
// pointers are plain BigInts that carry no type, so the pointer never leaves
// this object: it is tagged with its kind when made, and the kind is checked
// when used.
//
// Freeing must wait for async calls still running on another thread with the
// pointer (freeing under them is a use-after-free), so close() closes at
// once (which wakes those calls) and the free happens when the last of them
// has returned. A FinalizationRegistry frees a handle whose owner was
// garbage-collected without close(); the owner is reachable from every
// pending async callback, so that only happens when nothing is in flight.

const registry = new FinalizationRegistry((handle) => handle.close());

class NativeHandle {
  #ptr;
  #busy = 0;
  #closed = false;
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

  /** Marks the start of an async call that uses the pointer. */
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

  /** Closes the native object (waking blocked calls); idempotent. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.ops.close(this.#ptr);
    this.#maybeFree();
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
