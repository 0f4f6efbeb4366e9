'use strict';
// The consumer. Waiting receives are served on the event loop: while someone
// waits, the consumer's readiness descriptor (kmq_consumer_fd) is watched by
// the process's one poller (poller.js), and when it polls readable the
// messages are taken with kmq_receive(c, 0), which never waits. So a waiting
// consumer holds no pool thread of its own and does nothing until a message
// comes, and close() (which makes the descriptor readable) lets the process
// exit at once.

const { native, Status } = require('./native');
const { KapokMQError, fromLastError, invalidArgument, closedError, statusName } = require('./errors');
const { callOnThread } = require('./call-thread');
const { run } = require('./run');
const { connectPointer } = require('./config');
const { NativeHandle } = require('./handle');
const { Message, takeMessage } = require('./message');
const { parseTimeout } = require('./args');
const { Readiness } = require('./readiness');
const { Client, ATTACH, CLOSING } = require('./client');

const KIND = 'consumer';
const INTERNAL = Symbol('kapokmq.internal');

class Consumer extends Client {
  #h;
  #fns;
  /** Pending receive() calls, oldest first: { resolve, reject, timer }. */
  #waiters = [];
  /** Waits for the library to have a message while receive() calls wait. */
  #readiness;
  #out = new BigUint64Array(1);
  /** The options it was connected with, for run()'s retry producer. */
  #options;

  /** Connects a consumer; options are the config keys in camelCase. */
  static async connect(options) {
    const ptr = await connectPointer('consumerNew', options, 'kmq_consumer_new');
    return new this(INTERNAL, ptr, options);
  }

  /** @private use Consumer.connect() */
  constructor(token, ptr, options) {
    if (token !== INTERNAL) throw new TypeError('use Consumer.connect(options)');
    super();
    this.#options = { ...options };
    this.#fns = native();
    const fns = this.#fns;
    this.#h = new NativeHandle(KIND, ptr, { close: fns.consumerClose, free: fns.consumerFree }, this);
    this[ATTACH](this.#h);
    this.#readiness = new Readiness(this.#h, KIND, fns, 'consumerFd', 'kmq_consumer_fd', {
      ready: () => this.#takeReady(),
      wanted: () => this.#waiters.length > 0 && !this.#h.closed,
      failed: (e) => this.#rejectWaiters(e),
    });
  }

  /** True once close() was called or the library closed the consumer for good. */
  get closed() {
    return this.#h.closed;
  }

  /**
   * The next message; null if none came within `timeout` ms (default: wait
   * until one comes or the consumer is closed).
   */
  receive(options) {
    let timeout;
    try {
      timeout = parseTimeout('receive', options);
      if (this.#h.closed) throw closedError('receive: the consumer');
    } catch (e) {
      return Promise.reject(e);
    }
    // With nobody queued before us, a message the library already holds is
    // taken at once.
    if (this.#waiters.length === 0) {
      let m;
      try {
        m = this.#receiveNow();
      } catch (e) {
        return Promise.reject(e);
      }
      if (m !== null || timeout === 0) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      if (timeout !== Infinity) {
        waiter.timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          // Nobody left to wait for: no poll() is kept going for nothing.
          if (this.#waiters.length === 0) this.#readiness.cancel();
          resolve(null);
        }, timeout);
      }
      this.#waiters.push(waiter);
      this.#readiness.start();
    });
  }

  /** Tells the server the message (a Message or its code) was handled. Does not block. */
  ack(message) {
    const code = message instanceof Message ? message.code : message;
    if (typeof code !== 'string' || code.length === 0 || code.includes('\0')) {
      throw invalidArgument('ack: expected a Message or its code (a string)');
    }
    const ptr = this.#h.ptr(KIND);
    if (ptr === null) throw closedError('ack: the consumer');
    const status = this.#fns.ack(ptr, code);
    if (status !== 0) throw fromLastError(this.#fns, status);
  }

  /**
   * Closes the connection off the event loop (acks already given are
   * still written, briefly) and resolves once closed. A waiting receive()
   * rejects with KMQ_ERR_CLOSED at once. Closing again returns the first
   * close's promise.
   */
  close() {
    const first = !this.#h.closed;
    const ptr = this.#h.ptr(KIND);
    if (ptr !== null) this[CLOSING](ptr);
    const closing = this.#h.close((closedPtr) => this[CLOSING](closedPtr));
    if (first) {
      this.#rejectWaiters(closedError('receive: the consumer'));
      // The closed descriptor polls readable anyway; this does not rely on it.
      this.#readiness.cancel();
    }
    return closing;
  }

  /**
   * Stops taking pushes, waits (up to `timeout` ms; default no limit) until
   * every buffered message was received and every message handed out was
   * acked, then closes. Resolves to `{ handedOut, acked, unacked, unread }`;
   * the node pushes the unacked and unread ones again after its
   * pushRetryTime. The wait runs off the event loop, so receive() and ack()
   * go on meanwhile.
   */
  async drain(options) {
    const timeout = parseTimeout('drain', options);
    const ptr = this.#h.begin(KIND);
    if (ptr === null) throw closedError('drain: the consumer');
    let r;
    try {
      const ms = timeout === Infinity ? -1 : Math.ceil(timeout);
      r = await callOnThread(this.#fns.file, { fn: 'consumerDrain', args: [ptr, ms], out: 'drain' });
    } finally {
      this.#h.end();
    }
    if (r.status !== 0) throw new KapokMQError(statusName(r.status), r.message || statusName(r.status));
    await this.close();
    return r.value;
  }

  /**
   * Hands each message to `handler` (it may be async), at most
   * `concurrency` at once, and acks it when the handler settles; a handler
   * that throws leaves it unacked (the node pushes it again after its
   * pushRetryTime), one that throws `new Retry(delaySeconds)` has it sent
   * again with that delay and acks the original once the copy is
   * confirmed. Runs until `signal` aborts, then drains; resolves to the
   * drain's report.
   */
  run(handler, options) {
    return run(this, handler, options || {}, () => this.#retryProducer());
  }

  #retryProducer() {
    // Required here: producer.js does not need the consumer.
    const { Producer, ClusterProducer } = require('./producer');
    const { consumerId, receiveBuffer, ...rest } = this.#options;
    const producerId = rest.producerId || `${consumerId || 'consumer'}-retry`;
    const cls = this instanceof ClusterConsumer ? ClusterProducer : Producer;
    return cls.connect({ ...rest, producerId });
  }

  /** Closes on `await using`. */
  [Symbol.asyncDispose]() {
    return this.close();
  }


  /** Yields messages until the consumer is closed. */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      let m;
      try {
        m = await this.receive();
      } catch (e) {
        if (e instanceof KapokMQError && e.code === 'KMQ_ERR_CLOSED') return;
        throw e;
      }
      yield m;
    }
  }

  // kmq_receive with a zero timeout never waits, so it is made on this
  // thread (where kmq_last_error can be read). A message or null.
  #receiveNow() {
    const status = this.#fns.receive(this.#h.ptr(KIND), 0, this.#out);
    if (status === Status.KMQ_OK) return takeMessage(this.#fns, this.#out[0]);
    if (status === Status.KMQ_ERR_TIMEOUT) return null;
    const e = fromLastError(this.#fns, status);
    if (status === Status.KMQ_ERR_CLOSED) this.close();
    throw e;
  }

  // The descriptor polled readable: hands messages to the waiters, oldest
  // first, while there are both. What nobody waits for stays in the library.
  #takeReady() {
    while (this.#waiters.length > 0 && !this.#h.closed) {
      let m;
      try {
        m = this.#receiveNow();
      } catch (e) {
        this.#rejectWaiters(e);
        return;
      }
      if (m === null) return;
      const w = this.#waiters.shift();
      clearTimeout(w.timer);
      w.resolve(m);
    }
  }

  #rejectWaiters(error) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }
}

class ClusterConsumer extends Consumer {
  /** Asks the registry (registryAddr, registryPort, ...) and connects to every live node. */
  static async connect(options) {
    const ptr = await connectPointer('clusterConsumerNew', options, 'kmq_cluster_consumer_new');
    return new this(INTERNAL, ptr, options);
  }
}

module.exports = { Consumer, ClusterConsumer };
