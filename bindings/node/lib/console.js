'use strict';
// The console: one MQ node's HTTP API (sending without a socket, and the
// node's queries). Each call is one HTTP request that blocks for up to
// connectTimeoutMs, so it runs on a call thread (call-thread.js), which
// also reads the library's error message.

const { native } = require('./native');
const { KapokMQError, fromLastError, invalidArgument, closedError, statusName, notExported } = require('./errors');
const { buildConfig } = require('./config');
const { callOnThread } = require('./call-thread');
const { NativeHandle } = require('./handle');
const { parseDelay } = require('./args');

const KIND = 'console';
const INTERNAL = Symbol('kapokmq.internal');
/** `status` of listMessages(): every message. */
const ALL_STATUSES = 3;

function text(what, value) {
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string, got ${typeof value}`);
  if (value.includes('\0')) throw invalidArgument(`${what} contains a NUL character`);
  return value;
}

const pad = (n) => String(n).padStart(2, '0');

/** The node's time format, "YYYY-MM-DD hh:mm:ss"; a Date in this machine's local time. */
function timeText(what, value) {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalidArgument(`${what} is an invalid Date`);
    return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())} ` +
      `${pad(value.getHours())}:${pad(value.getMinutes())}:${pad(value.getSeconds())}`;
  }
  return text(`${what} (a Date or "YYYY-MM-DD hh:mm:ss")`, value);
}

class Console {
  #h;
  #fns;

  /**
   * A client of the node named by `options` (mqAddr, mqPort, mqProtocol,
   * secretKey, connectTimeoutMs, tlsCaFile, tlsVerify). Does no I/O, so it
   * is synchronous; reaching the node is each call's business.
   */
  static create(options = {}) {
    const fns = native();
    if (!fns.consoleNew) throw notExported(fns, 'kmq_console_new');
    const cfg = buildConfig(fns, options);
    try {
      const out = new BigUint64Array(1);
      const status = fns.consoleNew(cfg, out);
      if (status !== 0) throw fromLastError(fns, status);
      return new this(INTERNAL, out[0]);
    } finally {
      fns.configFree(cfg);
    }
  }

  /** @private use Console.create() */
  constructor(token, ptr) {
    if (token !== INTERNAL) throw new TypeError('use Console.create(options)');
    this.#fns = native();
    // Nothing to close: a call in flight ends by itself within
    // connectTimeoutMs, and the free waits for it.
    this.#h = new NativeHandle(KIND, ptr, { close() {}, free: this.#fns.consoleFree }, this);
  }

  /** True once close() was called. */
  get closed() {
    return this.#h.closed;
  }

  /** Sends one message over HTTP; resolves with its message code once the node stored it. */
  async send(topic, data, options) {
    const delay = options === undefined ? 0 : parseDelay(options);
    text('send: topic', topic);
    if (typeof data === 'string') {
      return this.#call('send', 'consoleSendStr', [topic, data, Buffer.byteLength(data), delay], 'string');
    }
    if (data instanceof Uint8Array) {
      return this.#call('send', 'consoleSendBuf', [topic, data, data.byteLength, delay], 'string');
    }
    throw invalidArgument(`send: data must be a string or a Buffer, got ${typeof data}`);
  }

  /** Resolves when the node answers its ping. */
  async ping() {
    await this.#call('ping', 'consolePing', []);
  }

  /** The connected clients: { consumers: [...], producers: [...] }, as the node lists them. */
  async clients() {
    const answer = await this.#json('clients', 'consoleClients', []);
    // The node says null for an empty list.
    return { consumers: answer.consumers || [], producers: answer.producers || [] };
  }

  /** The node's settings. */
  async serverConfig() {
    return this.#json('serverConfig', 'consoleServerConfig', []);
  }

  /** Message counts: { all, consumed, delay, unconsumed }. */
  async count() {
    return this.#json('count', 'consoleCount', []);
  }

  /** The stored message with `code`, or null when the node has none. */
  async getMessage(code) {
    return this.#json('getMessage', 'consoleGetMessage', [text('getMessage: code', code)]);
  }

  /**
   * Messages created between `start` and `end` (Dates, or the node's local
   * time as "YYYY-MM-DD hh:mm:ss") with `status` (-1 waiting, 0 delayed,
   * 1 consumed, 3 all: the default) on `topic` ('' : every topic, the
   * default), newest first, without their data.
   */
  async listMessages(start, end, options) {
    const { status = ALL_STATUSES, topic = '' } = options || {};
    if (!Number.isInteger(status)) throw invalidArgument(`listMessages: status must be -1, 0, 1 or 3, got ${status}`);
    const args = [
      timeText('listMessages: start', start),
      timeText('listMessages: end', end),
      status,
      text('listMessages: topic', topic),
    ];
    return (await this.#json('listMessages', 'consoleListMessages', args)) || [];
  }

  /** Deletes the stored message with `code` (an unknown code is no error). */
  async deleteMessage(code) {
    await this.#call('deleteMessage', 'consoleDeleteMessage', [text('deleteMessage: code', code)]);
  }

  /** The node's view of its cluster, or null when it is not in cluster mode. */
  async nodes() {
    return this.#json('nodes', 'consoleNodes', []);
  }

  /**
   * Frees the client once calls in flight have returned; later calls
   * reject with KMQ_ERR_CLOSED. Returns a promise, as the other clients'
   * close() do; it waits for nothing.
   */
  close() {
    return this.#h.close();
  }

  /** Closes on `await using`. */
  [Symbol.asyncDispose]() {
    return this.close();
  }

  async #json(what, fn, args) {
    return JSON.parse(await this.#call(what, fn, args, 'string'));
  }

  /** Runs the native `fn` (a name in native.js) with the pointer and `args` on a call thread. */
  async #call(what, fn, args, out) {
    const ptr = this.#h.begin(KIND);
    if (ptr === null) throw closedError(`${what}: the console`);
    try {
      const r = await callOnThread(this.#fns.file, { fn, args: [ptr, ...args], out });
      if (r.status !== 0) throw new KapokMQError(statusName(r.status), r.message || statusName(r.status));
      return r.value;
    } finally {
      this.#h.end();
    }
  }
}

module.exports = { Console };
