'use strict';
// The library's callbacks: log messages (logger.js) and connection events
// (client.js). Neither is installed until someone listens.
//
// The library calls them from its own threads, and koffi holds such a
// thread until the JS callback has run on the callback's own JS thread.
// Were that the main thread, a main thread inside a library call that waits
// for the library's log thread would never run it: a deadlock. Replacing a
// callback is such a call (it waits for the callbacks in flight).
// So the callbacks live on a log thread of ours (log-worker.js), whose loop
// does nothing else, and reach the main thread as messages. The log thread
// is unreferenced: it never keeps the process alive.

const path = require('node:path');
const { EventEmitter } = require('node:events');
const { Worker } = require('node:worker_threads');
const { KapokMQError } = require('./errors');

const WORKER_FILE = path.join(__dirname, 'log-worker.js');
const START_TIMEOUT_MS = 10000;
/** The callbacks of the log thread, in the order of their addresses (see log-worker.js). */
const KINDS = ['log', 'event'];

/** The callbacks' addresses by kind, once the log thread runs. */
let addresses = null;
/** kind → the function that takes that kind's messages on the main thread. */
const receivers = new Map();

/**
 * Starts the log thread and waits (briefly, once per process) for the
 * addresses of its callbacks, so that a callback is installed when the
 * caller's call returns. The thread then stays, idle when no callback is.
 */
function startThread() {
  const slot = new SharedArrayBuffer(8 + 8 * KINDS.length);
  const worker = new Worker(WORKER_FILE, { workerData: { slot } });
  // A failure to start is reported below; once running, it cannot fail.
  worker.on('error', () => {});
  const ready = new Int32Array(slot, 0, 1);
  Atomics.wait(ready, 0, 0, START_TIMEOUT_MS);
  if (Atomics.load(ready, 0) !== 1) {
    worker.terminate();
    throw new KapokMQError('KMQ_ERR_INTERNAL', 'the log thread did not start');
  }
  worker.on('message', ([kind, ...args]) => {
    const receive = receivers.get(kind);
    if (receive) receive(...args);
  });
  // After the listeners, which would reference it again.
  worker.unref();
  const words = new BigUint64Array(slot, 8, KINDS.length);
  return new Map(KINDS.map((kind, i) => [kind, words[i]]));
}

/**
 * One of the library's callbacks into the log thread. `install(...args)`
 * has the library call it (`set(address, ...args)`, e.g. with
 * kmq_set_log_callback) and may be called again to change the arguments;
 * `uninstall()` takes it out (`clear()`), as happens at exit, before Node
 * ends the log thread. `receive(...)` gets its messages on the main thread,
 * including ones sent shortly before it was taken out.
 */
class LibraryCallback {
  #kind;
  #set;
  #clear;
  /** Whether the library holds the callback. */
  installed = false;

  constructor(kind, { receive, set, clear }) {
    this.#kind = kind;
    this.#set = set;
    this.#clear = clear;
    receivers.set(kind, receive);
  }

  install(...args) {
    if (addresses === null) addresses = startThread();
    this.#set(addresses.get(this.#kind), ...args);
    if (!this.installed) {
      this.installed = true;
      process.on('exit', this.uninstall);
    }
  }

  /** The call waits for callbacks in flight (served by the log thread), after which none comes. */
  uninstall = () => {
    if (!this.installed) return;
    this.#clear();
    this.installed = false;
    process.off('exit', this.uninstall);
  };
}

/**
 * An EventEmitter whose `name` events come from a library callback:
 * `first(emitter)` runs when it gets its first `name` listener (if it
 * throws, the listener is not added) and `last(emitter)` when it loses its
 * last one.
 */
class CallbackEmitter extends EventEmitter {
  #name;

  constructor(name, first, last) {
    super();
    this.#name = name;
    this.on('newListener', (event) => {
      if (event === name && this.listenerCount(name) === 0) first(this);
    });
    this.on('removeListener', (event) => {
      if (event === name && this.listenerCount(name) === 0) last(this);
    });
  }

  removeAllListeners(event) {
    // The constructor's hooks stay: without an event name, only its listeners go.
    return super.removeAllListeners(event === undefined ? this.#name : event);
  }
}

module.exports = { LibraryCallback, CallbackEmitter };
