'use strict';
// What producers and consumers share: their statistics document
// (statsJson), the process's list of clients not yet closed (which
// prometheusText() renders when given none), and their connection events
// as 'event' events.
//
// The library has one event callback for the whole process, called on its
// log thread; ours lives on our log thread (log-thread.js) and its events
// reach the main thread as messages. Each event names its client by serial
// number (kmq_producer_serial) and goes to that client if it has 'event'
// listeners. The callback is installed with the first 'event' listener of
// any client and removed when no open client has one left, and at exit.

const { native, koffi, counters, PRODUCER_STATS, CONSUMER_STATS } = require('./native');
const { invalidArgument, closedError, notExported, fromLastError } = require('./errors');
const { LibraryCallback, CallbackEmitter } = require('./log-thread');
const { statsDocument, prometheusPage } = require('./metrics');

/** Made by the constructors of Producer and Consumer: `this[ATTACH](handle)`. */
const ATTACH = Symbol('kapokmq.attach');
/** Called by them while closing, with a pointer still valid: `this[CLOSING](ptr)`. */
const CLOSING = Symbol('kapokmq.closing');

/**
 * serial → a WeakRef to each client not yet closed: an unclosed client
 * nobody references is still collected (and then freed, see handle.js).
 */
const open = new Map();
/** The serials of open clients with 'event' listeners. */
const listened = new Set();
/** A client collected without close() leaves the lists. */
const collected = new FinalizationRegistry((serial) => forget(serial));

const events = new LibraryCallback('event', {
  receive: (event) => {
    if (!listened.has(event.client)) return;
    const client = open.get(event.client)?.deref();
    if (client !== undefined) client.emit('event', event);
  },
  set: (address) => native().setEventCallback(address, null),
  clear: () => native().setEventCallback(null, null),
});

/** Client `serial` gets no more events. */
function unlisten(serial) {
  if (listened.delete(serial) && listened.size === 0) events.uninstall();
}

/** Client `serial` is closed or gone: out of the lists. */
function forget(serial) {
  open.delete(serial);
  unlisten(serial);
}

/** The NativeHandle of a Producer or Consumer, else null. */
let handleOf;

/**
 * The base of Producer and Consumer: an EventEmitter of 'event' (a
 * connection event of the client's), with statsJson().
 */
/** Each kind's counters: the function that copies them out, and their struct. */
const COUNTERS = {
  producer: ['producerStats', PRODUCER_STATS],
  consumer: ['consumerStats', CONSUMER_STATS],
};

/** The library's counters of the client of `kind` at `ptr`. */
function readCounters(kind, ptr) {
  const fns = native();
  const [getter, struct] = COUNTERS[kind];
  const out = Buffer.alloc(koffi.sizeof(struct));
  const status = fns[getter](ptr, out);
  if (status !== 0) throw fromLastError(fns, status);
  return counters(koffi.decode(out, struct));
}

class Client extends CallbackEmitter {
  #h = null;
  #serial = 0;
  /** The statistics document (JSON text) as it was when the client closed. */
  #final = null;
  /** The counters as they were when the client closed. */
  #finalStats = null;

  static {
    handleOf = (client) => (client !== null && typeof client === 'object' && #h in client ? client.#h : null);
  }

  constructor() {
    super('event', (self) => self.#listen(), (self) => unlisten(self.#serial));
  }

  [ATTACH](h) {
    this.#h = h;
    const fns = native();
    const serialFn = h.kind === 'producer' ? fns.producerSerial : fns.consumerSerial;
    this.#serial = serialFn ? Number(serialFn(h.ptr(h.kind))) : 0;
    if (this.#serial !== 0) {
      open.set(this.#serial, new WeakRef(this));
      collected.register(this, this.#serial, this);
    }
  }

  /** Called with the pointer of a closing client: keeps what it counted, for after close. */
  [CLOSING](ptr) {
    this.#finalStats = readCounters(this.#h.kind, ptr);
    try {
      this.#final = statsDocument(native(), this.#h.kind, ptr);
    } catch {
      // A library without statistics documents: statsJson() says so.
    }
    collected.unregister(this);
    forget(this.#serial);
  }

  #listen() {
    const fns = native();
    if (!fns.setEventCallback) throw notExported(fns, 'kmq_set_event_callback');
    if (this.#serial === 0) throw notExported(fns, `kmq_${this.#h.kind}_serial`);
    // A closed client has no more events.
    if (!open.has(this.#serial)) return;
    if (!events.installed) events.install();
    listened.add(this.#serial);
  }

  /** Unique among the clients of the process, from 1: the `client` of its events and statsJson(). */
  get serial() {
    return this.#serial;
  }

  /** The library's counters for this client (after close: as they were then). */
  stats() {
    if (this.#finalStats !== null) return this.#finalStats;
    const { kind } = this.#h;
    const ptr = this.#h.ptr(kind);
    if (ptr === null) throw closedError(`stats: the ${kind}`);
    return readCounters(kind, ptr);
  }

  /**
   * Everything the library counts for this client, as the object its JSON
   * document holds (fields in snake_case, as the C API's README lists
   * them); after close, as it was then. Never waits.
   */
  statsJson() {
    if (this.#final !== null) return JSON.parse(this.#final);
    const { kind } = this.#h;
    const ptr = this.#h.ptr(kind);
    if (ptr === null) throw closedError(`statsJson: the ${kind}`);
    return JSON.parse(statsDocument(native(), kind, ptr));
  }
}

/**
 * A Prometheus page (text exposition format 0.0.4) of `clients` (Producers
 * and Consumers), or of every client of the process not yet closed when
 * none are given. Never waits.
 */
function prometheusText(clients) {
  const all = clients === undefined || clients === null;
  let list;
  if (all) {
    list = Array.from(open.values(), (ref) => ref.deref()).filter((c) => c !== undefined);
  } else if (typeof clients === 'object' && typeof clients[Symbol.iterator] === 'function') {
    list = Array.from(clients);
  } else {
    throw invalidArgument('prometheusText: expected an array of Producers and Consumers');
  }
  const producers = [];
  const consumers = [];
  list.forEach((client, i) => {
    const h = handleOf(client);
    if (h === null) throw invalidArgument(`prometheusText: clients[${i}] is not a Producer or Consumer`);
    const ptr = h.ptr(h.kind);
    if (ptr === null) {
      if (all) return;
      throw closedError(`prometheusText: clients[${i}] (a ${h.kind})`);
    }
    (h.kind === 'producer' ? producers : consumers).push(ptr);
  });
  return prometheusPage(native(), producers, consumers);
}

module.exports = { Client, ATTACH, CLOSING, prometheusText };
