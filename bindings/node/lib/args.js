'use strict';
// Checks of per-call options, shared by producer and consumer.

const { invalidArgument } = require('./errors');

const MAX_TIMER_MS = 2 ** 31 - 1;

function optionsObject(what, options) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') throw invalidArgument(`${what}: options must be an object`);
  return options;
}

/**
 * `{ timeout }` in ms → a number of ms, Infinity meaning no limit (-1 too).
 * Without a timeout: `fallback`, no limit unless given.
 */
function parseTimeout(what, options, fallback = Infinity) {
  const { timeout } = optionsObject(what, options);
  if (timeout === undefined || timeout === null) return fallback;
  if (timeout === -1 || timeout === Infinity) return Infinity;
  if (typeof timeout !== 'number' || !(timeout >= 0)) {
    throw invalidArgument(`${what}: timeout must be a number of ms >= 0 (or -1 for no limit), got ${timeout}`);
  }
  // setTimeout fires at once past 2^31-1 ms; that long is no limit anyway.
  return timeout > MAX_TIMER_MS ? Infinity : timeout;
}

/** `{ delay }` in whole seconds → a number. */
function parseDelay(options) {
  const { delay } = optionsObject('send', options);
  if (delay === undefined || delay === null) return 0;
  if (!Number.isSafeInteger(delay) || delay < 0) {
    throw invalidArgument(`send: delay must be a whole number of seconds >= 0, got ${delay}`);
  }
  return delay;
}

module.exports = { parseTimeout, parseDelay };
