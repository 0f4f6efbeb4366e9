'use strict';
// The library's log messages as 'log' events of `logger` (and through
// setLogger). Nothing is logged until someone listens: only then is a
// callback installed in the library.
//
// The library calls its log callback from any thread, its network thread
// included, and koffi holds that thread until the JS callback has run on
// the callback's own JS thread. Were that the main thread, a main thread
// inside a library call that waits for the logging thread would never run
// it: a deadlock. Replacing the callback is such a call (it waits for the
// callbacks in flight).
// So the callback lives on a log thread of its own (log-worker.js), whose
// loop does nothing else, and reaches the main thread as messages. The log
// thread is unreferenced: it never keeps the process alive.

const path = require('node:path');
const { EventEmitter } = require('node:events');
const { Worker } = require('node:worker_threads');
const { native } = require('./native');
const { KapokMQError, invalidArgument } = require('./errors');

/** Level names; the library's level is the index + 1 (1 error ... 4 debug). */
const LEVELS = ['error', 'warn', 'info', 'debug'];
const WORKER_FILE = path.join(__dirname, 'log-worker.js');
const START_TIMEOUT_MS = 10000;

function levelNumber(name) {
  const i = LEVELS.indexOf(name);
  if (i < 0) throw invalidArgument(`log level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(name)}`);
  return i + 1;
}

/** The log thread and the library's callback into it, once started. */
let thread = null;
/** Whether the library holds the callback. */
let installed = false;

/**
 * Starts the log thread and waits (briefly, once per process) for the
 * address of its callback, so that logging is on when the caller's call
 * returns. The thread then stays, idle when logging is off.
 */
function startThread(onMessage) {
  const slot = new SharedArrayBuffer(16);
  const worker = new Worker(WORKER_FILE, { workerData: { slot } });
  // A failure to start is reported below; once running, it cannot fail.
  worker.on('error', () => {});
  const ready = new Int32Array(slot, 0, 1);
  Atomics.wait(ready, 0, 0, START_TIMEOUT_MS);
  if (Atomics.load(ready, 0) !== 1) {
    worker.terminate();
    throw new KapokMQError('KMQ_ERR_INTERNAL', 'the log thread did not start');
  }
  worker.on('message', onMessage);
  // After the listeners, which would reference it again.
  worker.unref();
  return { worker, callback: new BigUint64Array(slot, 8, 1)[0] };
}

class Logger extends EventEmitter {
  #level = 'info';

  constructor() {
    super();
    // Install the library's callback with the first 'log' listener, remove
    // it with the last.
    this.on('newListener', (event) => {
      if (event === 'log' && !installed) this.#install();
    });
    this.on('removeListener', (event) => {
      if (event === 'log' && this.listenerCount('log') === 0) uninstall();
    });
  }

  removeAllListeners(event) {
    // The constructor's hooks stay: without an event name, only 'log' listeners go.
    return super.removeAllListeners(event === undefined ? 'log' : event);
  }

  /** The most verbose level passed on: 'error', 'warn', 'info' (the default) or 'debug'. */
  get level() {
    return this.#level;
  }

  set level(name) {
    const n = levelNumber(name);
    this.#level = name;
    if (installed) native().setLogCallback(thread.callback, n, null);
  }

  #install() {
    const fns = native();
    if (!fns.setLogCallback) {
      throw new KapokMQError('KMQ_ERR_INTERNAL', `${fns.file} does not export kmq_set_log_callback`);
    }
    if (thread === null) {
      thread = startThread(([level, message]) => {
        // Messages sent before a change of level (or before logging was
        // turned off) may still arrive.
        if (installed && level <= levelNumber(this.#level)) this.emit('log', LEVELS[level - 1] || 'error', message);
      });
    }
    fns.setLogCallback(thread.callback, levelNumber(this.#level), null);
    installed = true;
    process.on('exit', uninstall);
  }
}

/**
 * Takes the callback out of the library: the call waits for callbacks in
 * flight (served by the log thread), after which none comes. Also run at
 * exit, before Node ends the log thread.
 */
function uninstall() {
  if (!installed) return;
  native().setLogCallback(null, 0, null);
  installed = false;
  process.off('exit', uninstall);
}

/** Emits 'log' (level, message) for each message of the library up to `logger.level`. */
const logger = new Logger();

let current = null;

/**
 * Sends the library's log messages up to `options.level` (default 'info')
 * to `fn(level, message)`, replacing the function of an earlier call; null
 * stops. The level is logger.level, shared with 'log' listeners.
 */
function setLogger(fn, options) {
  if (fn !== null && fn !== undefined && typeof fn !== 'function') {
    throw invalidArgument('setLogger: expected a function (level, message) or null');
  }
  const { level = 'info' } = options || {};
  levelNumber(level);
  const previous = current;
  // The new listener first: the library's callback stays installed throughout.
  if (fn) {
    logger.level = level;
    logger.on('log', fn);
  }
  current = fn || null;
  if (previous !== null) logger.off('log', previous);
}

module.exports = { logger, setLogger, LEVELS };
