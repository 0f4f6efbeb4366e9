'use strict';
// consumer.run(): a handler loop with bounded concurrency, retries through
// delayed messages, and a drain when its AbortSignal fires.

/** How long a drain started by the signal may wait for the handlers. */
const DRAIN_TIMEOUT_MS = 30000;
/** How often an idle loop looks at its signal. */
const POLL_MS = 100;

/**
 * Thrown by a run() handler to have the message handled again after
 * `delaySeconds`: the same data is sent again to the same topic as a
 * delayed message (a new message, with a new code), and the original is
 * acked once the copy is confirmed.
 */
class Retry extends Error {
  constructor(delaySeconds) {
    super(`retry in ${delaySeconds} s`);
    this.name = 'Retry';
    this.delaySeconds = delaySeconds;
  }
}

/**
 * Runs `handler` on the consumer's messages, at most `concurrency` at once,
 * until `signal` aborts (then drains) or the consumer closes; resolves to
 * the drain's report. `makeProducer` connects the producer retries go
 * through (made on the first Retry).
 */
async function run(consumer, handler, { concurrency = 1, signal } = {}, makeProducer) {
  if (typeof handler !== 'function') throw new TypeError('run: the handler must be a function');
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`run: concurrency must be a whole number >= 1, got ${concurrency}`);
  }
  const state = { active: 0, freed: null, failed: 0, producer: null, makeProducer };
  let draining = null;
  const startDrain = () => {
    if (!draining) draining = consumer.drain({ timeout: DRAIN_TIMEOUT_MS }).catch(() => null);
  };
  if (signal) {
    if (signal.aborted) startDrain();
    else signal.addEventListener('abort', startDrain, { once: true });
  }
  try {
    for (;;) {
      while (state.active >= concurrency) await new Promise((r) => { state.freed = r; });
      let m;
      try {
        m = await consumer.receive({ timeout: POLL_MS });
      } catch (e) {
        if (e.code === 'KMQ_ERR_CLOSED') break;
        throw e;
      }
      if (m === null) {
        if (draining) break; // draining, and nothing left to hand out
        continue;
      }
      state.active++;
      handle(consumer, handler, m, state);
    }
  } finally {
    if (signal) signal.removeEventListener('abort', startDrain);
    while (state.active > 0) await new Promise((r) => { state.freed = r; });
    // A failed handler's ack will not come: closing ends the drain's wait.
    if (draining && state.failed > 0) await consumer.close();
    if (state.producer) await (await state.producer).close().catch(() => {});
  }
  const report = draining ? await draining : null;
  return report || { handedOut: 0, acked: 0, unacked: 0, unread: 0 };
}

async function handle(consumer, handler, m, state) {
  try {
    try {
      await handler(m);
    } catch (e) {
      if (!(e instanceof Retry)) throw e;
      if (!state.producer) state.producer = state.makeProducer();
      const producer = await state.producer;
      // Settles within the producer's messageTimeoutMs.
      await producer.send(m.data, { delay: e.delaySeconds });
    }
    consumer.ack(m);
  } catch (e) {
    if (e && e.code === 'KMQ_ERR_CLOSED') return; // the drain ran out of time
    state.failed++;
    // Not acked: the node pushes it again after its pushRetryTime.
    process.emitWarning(`kapokmq: handler failed on message ${m.code}; not acked: ${e && e.message}`);
  } finally {
    state.active--;
    if (state.freed) {
      const wake = state.freed;
      state.freed = null;
      wake();
    }
  }
}

module.exports = { run, Retry };
