'use strict';
// The library's log messages as 'log' events of `logger` (and through
// setLogger). Nothing is logged until someone listens: only then is a
// callback installed in the library, on the log thread (log-thread.js).

const { native } = require('./native');
const { invalidArgument, notExported } = require('./errors');
const { LibraryCallback, CallbackEmitter } = require('./log-thread');

/** Level names; the library's level is the index + 1 (1 error ... 4 debug). */
const LEVELS = ['error', 'warn', 'info', 'debug'];

function levelNumber(name) {
  const i = LEVELS.indexOf(name);
  if (i < 0) throw invalidArgument(`log level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(name)}`);
  return i + 1;
}

class Logger extends CallbackEmitter {
  #level = 'info';
  #callback;

  constructor() {
    // The library's callback is installed with the first 'log' listener and
    // removed with the last.
    super('log', (self) => self.#install(), (self) => self.#callback.uninstall());
    this.#callback = new LibraryCallback('log', {
      receive: (level, message) => {
        // Messages sent before a change of level (or before logging was
        // turned off) may still arrive.
        if (this.#callback.installed && level <= levelNumber(this.#level)) {
          this.emit('log', LEVELS[level - 1] || 'error', message);
        }
      },
      set: (address, n) => native().setLogCallback(address, n, null),
      clear: () => native().setLogCallback(null, 0, null),
    });
  }

  /** The most verbose level passed on: 'error', 'warn', 'info' (the default) or 'debug'. */
  get level() {
    return this.#level;
  }

  set level(name) {
    const n = levelNumber(name);
    this.#level = name;
    if (this.#callback.installed) this.#callback.install(n);
  }

  #install() {
    const fns = native();
    if (!fns.setLogCallback) throw notExported(fns, 'kmq_set_log_callback');
    this.#callback.install(levelNumber(this.#level));
  }
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
