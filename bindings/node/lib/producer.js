'use strict';
// The producer. send() only enqueues (kmq_send_tracked returns at once) and
// keeps the promise's resolvers under the message's id. While sends are
// pending, the producer's readiness descriptor (kmq_producer_fd) is watched
// by the process's one poller (poller.js); when it polls readable, the
// delivery reports are taken with kmq_poll_reports(p, ..., 0), which never
// waits, and promises are settled in batches. So a producer holds no pool
// thread of its own however many sends are in flight, and an idle one is
// not watched at all.

const os = require('node:os');
const {
  native, koffi, counters, Status, DELIVERY_REPORT, BUF, CLOSE_REPORT, CONNECTION_STATS, elementIndex,
} = require('./native');
const { KapokMQError, fromLastError, invalidArgument, closedError, statusName } = require('./errors');
const { connectPointer } = require('./config');
const { NativeHandle } = require('./handle');
const { parseTimeout, parseDelay } = require('./args');
const { Readiness } = require('./readiness');
const { Client, ATTACH, CLOSING } = require('./client');

const KIND = 'producer';
/** Reports taken per kmq_poll_reports call. */
const BATCH = 1024;
/** How long close() flushes when not told (as the Python binding's close). */
const CLOSE_FLUSH_MS = 5000;
const INTERNAL = Symbol('kapokmq.internal');

/** Why a tracked message failed (with prefix '': a flush or the close), in the library's words from its report. */
function deliveryError(status, text, prefix = 'send: ') {
  return new KapokMQError(statusName(status), `${prefix}${text || statusName(status)}`);
}

/** Whether the low half of a 64-bit field is its first 32-bit word. */
const LITTLE_ENDIAN = os.endianness() === 'LE';
const TWO_32 = 2 ** 32;
/** Of a 64-bit field's two 32-bit words, which one is the low and which the high half. */
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;
const HIGH_WORD = 1 - LOW_WORD;

// The delivery reports are read through 32-bit views of their buffer, at
// the places koffi's layout of DELIVERY_REPORT gives: a batch of
// confirmations makes no object per report. Only a failed report is
// decoded (koffi.decode), for its error text.
const REPORT_SIZE = koffi.sizeof(DELIVERY_REPORT);
const REPORT_WORDS = elementIndex(DELIVERY_REPORT, null, Uint32Array);
const REPORT_ID = elementIndex(DELIVERY_REPORT, 'id', Uint32Array);
const REPORT_STATUS = elementIndex(DELIVERY_REPORT, 'status', Int32Array);

// A kmq_buf array is written through 32-bit views likewise (64-bit ones on
// a big-endian machine), at the places koffi's layout of BUF gives.
const BUF_SIZE = koffi.sizeof(BUF);
const BUF_WORDS = elementIndex(BUF, null, Uint32Array);
const BUF_DATA_WORD = elementIndex(BUF, 'data', Uint32Array);
const BUF_LEN_WORD = elementIndex(BUF, 'len', Uint32Array);
const BUF_QUADS = elementIndex(BUF, null, BigUint64Array);
const BUF_DATA_QUAD = elementIndex(BUF, 'data', BigUint64Array);
const BUF_LEN_QUAD = elementIndex(BUF, 'len', BigUint64Array);

/**
 * The messages of a batch laid out for kmq_send_many in one buffer of its
 * own: the kmq_buf array first, then the messages' bytes it points to, so
 * that the one argument keeps both alive during the call. Throws (nothing
 * sent) on a message that is neither a string nor bytes.
 */
function layOut(messages) {
  const n = messages.length;
  let allStrings = true;
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    if (typeof m !== 'string') {
      if (!(m instanceof Uint8Array)) {
        throw invalidArgument(`sendMany: messages[${i}] must be a string or a Buffer, got ${m === null ? 'null' : typeof m}`);
      }
      allStrings = false;
    }
  }
  const lens = new Array(n);
  const head = n * BUF_SIZE;
  let out;
  if (allStrings) {
    // One encoding of all the text; ASCII needs no lengths of its own.
    const joined = messages.join('');
    const bytes = Buffer.byteLength(joined, 'utf8');
    out = Buffer.allocUnsafeSlow(head + bytes);
    out.write(joined, head, bytes, 'utf8');
    const ascii = bytes === joined.length;
    for (let i = 0; i < n; i++) lens[i] = ascii ? messages[i].length : Buffer.byteLength(messages[i], 'utf8');
  } else {
    const parts = new Array(n);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const m = messages[i];
      parts[i] = typeof m === 'string' ? Buffer.from(m, 'utf8') : m;
      lens[i] = parts[i].byteLength;
      bytes += lens[i];
    }
    out = Buffer.allocUnsafeSlow(head + bytes);
    for (let i = 0, at = head; i < n; at += lens[i], i++) out.set(parts[i], at);
  }
  // Its own ArrayBuffer (not the pool's), so the words are aligned.
  const base = koffi.address(out) + BigInt(head);
  if (LITTLE_ENDIAN) {
    const words = new Uint32Array(out.buffer, out.byteOffset, BUF_WORDS * n);
    const lo = Number(base & 0xffffffffn);
    const hi = Number(base >> 32n);
    let offset = 0;
    for (let i = 0, w = 0; i < n; i++, w += BUF_WORDS) {
      const start = lo + offset;
      words[w + BUF_DATA_WORD] = start % TWO_32;
      words[w + BUF_DATA_WORD + 1] = hi + Math.floor(start / TWO_32);
      words[w + BUF_LEN_WORD] = lens[i];
      words[w + BUF_LEN_WORD + 1] = 0;
      offset += lens[i];
    }
  } else {
    const bufs = new BigUint64Array(out.buffer, out.byteOffset, BUF_QUADS * n);
    let offset = 0;
    for (let i = 0, q = 0; i < n; i++, q += BUF_QUADS) {
      bufs[q + BUF_DATA_QUAD] = base + BigInt(offset);
      bufs[q + BUF_LEN_QUAD] = BigInt(lens[i]);
      offset += lens[i];
    }
  }
  return out;
}

/**
 * The outcome of one sendMany: settled once every message it enqueued is
 * confirmed or failed, with the refusal that stopped the batch, else its
 * first failure (by position), else nothing.
 */
class BatchOutcome {
  constructor(total, firstId, accepted, refused, resolve, reject) {
    this.total = total;
    this.firstId = firstId;
    this.left = accepted;
    this.refused = refused;
    this.failures = 0;
    this.first = null;
    this.resolveAll = resolve;
    this.rejectAll = reject;
    // The shape of the pending entries' callbacks (see #settle, #failAll).
    this.resolve = () => this.#settled();
    this.reject = (e, id) => {
      this.failures++;
      if (this.first === null || (id !== undefined && !(this.first.id <= id))) this.first = { id, e };
      this.#settled();
    };
    if (this.left === 0) this.#finish();
  }

  #settled() {
    if (--this.left === 0) this.#finish();
  }

  #finish() {
    if (this.refused !== null) {
      this.rejectAll(this.refused);
    } else if (this.first !== null) {
      const { id, e } = this.first;
      const where = id === undefined ? '' : `, messages[${id - this.firstId}]`;
      const error = new KapokMQError(e.code,
        `sendMany: ${this.failures} of ${this.total} messages failed; the first${where}: ${e.message}`);
      error.accepted = this.total;
      this.rejectAll(error);
    } else {
      this.resolveAll();
    }
  }
}

class Producer extends Client {
  #h;
  #fns;
  /** id → { resolve, reject, prefix? } of sends, flushes and the close (one id sequence). */
  #pending = new Map();
  /** Waits for the library to have delivery reports while sends are pending. */
  #readiness;
  #idOut = new BigUint64Array(1);
  #idWords = new Uint32Array(this.#idOut.buffer);
  #acceptedOut = new BigUint64Array(1);
  /** BATCH kmq_delivery_reports, and 32-bit views of them (see REPORT_ID). */
  #reports = new Uint8Array(BATCH * REPORT_SIZE);
  #reportWords = new Uint32Array(this.#reports.buffer);
  #reportInts = new Int32Array(this.#reports.buffer);
  #count = new BigUint64Array(1);
  /** close()'s promise, once called. */
  #closing = null;
  /** What became of the messages when it closed (kmq_producer_close_report). */
  #finalReport = null;

  /** Connects a producer; options are the config keys in camelCase. */
  static async connect(options) {
    const ptr = await connectPointer('producerNew', options, 'kmq_producer_new');
    return new this(INTERNAL, ptr);
  }

  /** @private use Producer.connect() */
  constructor(token, ptr) {
    if (token !== INTERNAL) throw new TypeError('use Producer.connect(options)');
    super();
    this.#fns = native();
    const fns = this.#fns;
    this.#h = new NativeHandle(KIND, ptr, { close: fns.producerClose, free: fns.producerFree }, this);
    this[ATTACH](this.#h);
    this.#readiness = new Readiness(this.#h, KIND, fns, 'producerFd', 'kmq_producer_fd', {
      ready: (begunPtr) => this.#takeReports(begunPtr),
      wanted: () => this.#pending.size > 0,
      failed: (e) => this.#failAll(e),
    });
  }

  /** True once close() was called or the library closed the producer for good. */
  get closed() {
    return this.#closing !== null || this.#h.closed;
  }

  /**
   * Enqueues one message (a string, or a Buffer of UTF-8). The promise
   * resolves when the server confirms it, and rejects with a KapokMQError.
   */
  send(data, options) {
    const h = this.#h;
    const fns = this.#fns;
    let status;
    try {
      const delay = options === undefined ? 0 : parseDelay(options);
      const ptr = this.closed ? null : h.ptr(KIND);
      if (ptr === null) throw closedError('send: the producer');
      if (typeof data === 'string') {
        status = fns.sendTrackedStr(ptr, data, Buffer.byteLength(data), delay, this.#idOut);
      } else if (data instanceof Uint8Array) {
        status = fns.sendTrackedBuf(ptr, data, data.byteLength, delay, this.#idOut);
      } else {
        throw invalidArgument(`send: data must be a string or a Buffer, got ${typeof data}`);
      }
      if (status !== 0) throw fromLastError(fns, status);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.#idWords[0] + this.#idWords[1] * 0x100000000;
    const promise = new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#readiness.start();
    return promise;
  }

  /**
   * Enqueues every message of `messages` (strings or Buffers of UTF-8), in
   * order and with one delay, in one call into the library. The promise
   * resolves once every one is confirmed. It rejects with a KapokMQError
   * whose `accepted` says how many were enqueued: if the batch was
   * refused part-way (a bad message, the queue full, closed) with that
   * refusal, once the messages before it are settled; if some failed, with
   * the first failure (by position) once all are settled.
   */
  sendMany(messages, options) {
    const h = this.#h;
    const fns = this.#fns;
    let total;
    let firstId;
    let accepted;
    let refused = null;
    try {
      if (typeof messages === 'string' || messages === null || typeof messages !== 'object' ||
          typeof messages[Symbol.iterator] !== 'function') {
        throw invalidArgument('sendMany: messages must be an array of strings or Buffers');
      }
      const list = Array.isArray(messages) ? messages : Array.from(messages);
      const delay = options === undefined ? 0 : parseDelay(options);
      const ptr = this.closed ? null : h.ptr(KIND);
      if (ptr === null) throw closedError('sendMany: the producer');
      total = list.length;
      const msgs = total > 0 ? layOut(list) : null;
      const status = fns.sendManyTracked(ptr, msgs, total, delay, this.#acceptedOut, this.#idOut);
      accepted = Number(this.#acceptedOut[0]);
      firstId = this.#idWords[0] + this.#idWords[1] * 0x100000000;
      if (status !== 0) {
        refused = fromLastError(fns, status);
        refused.accepted = accepted;
      }
    } catch (e) {
      if (e instanceof KapokMQError && e.accepted === undefined) e.accepted = 0;
      return Promise.reject(e);
    }
    // One entry for all the batch's ids.
    const promise = new Promise((resolve, reject) => {
      const entry = new BatchOutcome(total, firstId, accepted, refused, resolve, reject);
      for (let i = 0; i < accepted; i++) this.#pending.set(firstId + i, entry);
    });
    if (accepted > 0) this.#readiness.start();
    return promise;
  }

  /**
   * Resolves once every message sent before the call is confirmed; rejects
   * with the last failure if some were given up on, or with KMQ_ERR_TIMEOUT
   * after `timeout` ms (default: no limit; each message has its own
   * messageTimeoutMs anyway), in the core's words (kmq_flush_begin).
   */
  async flush(options) {
    const timeout = parseTimeout('flush', options);
    if (this.closed) throw closedError('flush: the producer');
    return this.#outcome(this.#fns.flushBegin, timeout);
  }

  /**
   * Refuses sends from now on, flushes for at most `timeout` ms (default
   * 5000), then closes, off the event loop: what is still unconfirmed fails
   * with KMQ_ERR_CLOSED. Resolves once closed and every send settled, to
   * what became of the messages; rejects with the flush's error, carrying
   * the same `report`. Closing again returns the first close's promise.
   */
  close(options) {
    try {
      this.#closing ??= this.#close(parseTimeout('close', options, CLOSE_FLUSH_MS));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#closing;
  }

  /** Closes on `await using`. */
  [Symbol.asyncDispose]() {
    return this.close();
  }

  // The core flushes, closes and reports the flush's outcome last, worded
  // "close: ...". Refused if the library closed the producer already, on its
  // own: then only its last reports are left, and the close rejects with why
  // it closed (KMQ_ERR_AUTH: a reconnect was refused), KMQ_ERR_CLOSED aside.
  async #close(timeout) {
    let error = null;
    try {
      if (!this.#h.closed) error = await this.#outcome(this.#fns.producerCloseBegin, timeout).then(() => null, (e) => e);
    } catch (e) {
      if (e.code !== 'KMQ_ERR_CLOSED') error = e;
    }
    // The rest is taken; KMQ_ERR_CLOSED then closes the handle and fails what never came.
    const ptr = this.#h.ptr(KIND);
    if (ptr !== null) this.#takeReports(ptr);
    await this.#closeHandle();
    if (error !== null) throw Object.assign(error, { report: this.#finalReport });
    return this.#finalReport;
  }

  /** Begins a flush or the close; the promise settles on its report, in the core's words. */
  #outcome(begin, timeout) {
    const status = begin(this.#h.ptr(KIND), timeout === Infinity ? -1 : Math.ceil(timeout), this.#idOut);
    if (status !== 0) throw fromLastError(this.#fns, status);
    const id = this.#idWords[0] + this.#idWords[1] * 0x100000000;
    const promise = new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject, prefix: '' }));
    this.#readiness.start();
    return promise;
  }

  /** Closes the native producer, keeping its final counters (see #keepFinal). */
  #closeHandle() {
    const ptr = this.#h.ptr(KIND);
    if (ptr !== null) this.#keepFinal(ptr);
    return this.#h.close((closedPtr) => this.#keepFinal(closedPtr));
  }

  /** Keeps the counters and the close's report as they are now, for after close. */
  #keepFinal(ptr) {
    const out = Buffer.alloc(koffi.sizeof(CLOSE_REPORT));
    // Unchecked: it fails only for NULL, and a throw here would leave close() unsettled.
    this.#fns.producerCloseReport(ptr, out);
    this.#finalReport = counters(koffi.decode(out, CLOSE_REPORT));
    this[CLOSING](ptr);
  }

  /**
   * Each connection's counters, in the order they were started: the
   * `connections` option's number per node.
   */
  connectionStats() {
    const ptr = this.#h.ptr(KIND);
    if (ptr === null) throw closedError('connectionStats: the producer');
    const size = koffi.sizeof(CONNECTION_STATS);
    const count = new BigUint64Array(1);
    for (let room = 8; ;) {
      const out = Buffer.alloc(size * room);
      const status = this.#fns.connectionStats(ptr, out, room, count);
      if (status !== 0) throw fromLastError(this.#fns, status);
      const n = Number(count[0]);
      if (n > room) {
        room = n;
        continue;
      }
      return Array.from({ length: n }, (_, i) => {
        const c = koffi.decode(out, i * size, CONNECTION_STATS);
        return {
          node: c.node,
          connected: c.connected !== 0,
          written: Number(c.written),
          confirmed: Number(c.confirmed),
          resent: Number(c.resent),
          reconnects: Number(c.reconnects),
          inFlight: Number(c.in_flight),
        };
      });
    }
  }

  // The descriptor polled readable. The reports are taken with the pointer
  // of the wait (begun before any close()): after close() the last reports,
  // confirmations that raced the close included, are still taken, until
  // the library says CLOSED.
  #takeReports(ptr) {
    for (;;) {
      const status = this.#fns.pollReports(ptr, this.#reports, BATCH, 0, this.#count);
      if (status === Status.KMQ_OK) {
        const n = Number(this.#count[0]);
        this.#settle(n);
        if (n < BATCH) return;
      } else if (status === Status.KMQ_ERR_TIMEOUT) {
        return;
      } else if (status === Status.KMQ_ERR_CLOSED) {
        // Closed (by close(), or the connection is lost for good) and every
        // report taken: what is still pending will never be reported.
        this.#closeHandle();
        this.#failAll(deliveryError(status, 'the producer was closed before the server confirmed the message'));
        return;
      } else {
        this.#failAll(fromLastError(this.#fns, status));
        return;
      }
    }
  }

  /** Settles the sends of the first n reports. */
  #settle(n) {
    const words = this.#reportWords;
    const ints = this.#reportInts;
    for (let i = 0, w = 0; i < n; i++, w += REPORT_WORDS) {
      const id = words[w + REPORT_ID + LOW_WORD] + words[w + REPORT_ID + HIGH_WORD] * TWO_32;
      const entry = this.#pending.get(id);
      if (entry === undefined) continue;
      this.#pending.delete(id);
      const status = ints[w + REPORT_STATUS];
      if (status === Status.KMQ_OK) {
        entry.resolve();
      } else {
        const report = koffi.decode(this.#reports, i * REPORT_SIZE, DELIVERY_REPORT);
        entry.reject(deliveryError(status, report.error, entry.prefix), id);
      }
    }
  }

  #failAll(error) {
    for (const entry of this.#pending.values()) entry.reject(error);
    this.#pending.clear();
  }
}

class ClusterProducer extends Producer {
  /** Asks the registry (registryAddr, registryPort, ...) and connects to every live node. */
  static async connect(options) {
    const ptr = await connectPointer('clusterProducerNew', options, 'kmq_cluster_producer_new');
    return new this(INTERNAL, ptr);
  }
}

module.exports = { Producer, ClusterProducer };
