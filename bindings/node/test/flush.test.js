'use strict';
// flush() and close() are the core's (kmq_flush_begin, kmq_producer_close_begin):
// their outcomes come as delivery reports, in the core's words, and close()
// resolves to the core's close report.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer } = require('..');
const { startBroker, startBrokerOrSkip, uniqueTopic } = require('../testing/broker');
const { rejectsWith } = require('../testing/assertions');

let broker;
let stalled = null;
before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker.stop();
  if (stalled) await stalled.stop();
});

/** The shared broker that stores messages but never confirms them (null: the test is skipped). */
async function stalledBroker(t) {
  stalled ??= await startBrokerOrSkip(t, ['--stall-acks']);
  return stalled;
}

const connect = (port, extra) => Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: port, ...extra });

/** Starts a broker with `args` on `port`, once the port is free again. */
async function startOn(port, args) {
  const giveUp = Date.now() + 5000;
  for (;;) {
    try {
      return await startBroker([...args, '--port', String(port)]);
    } catch (e) {
      if (e.skipReason || Date.now() > giveUp) throw e;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}

/** A promise's outcome so far: 'pending', 'resolved' or the rejection's code. */
function watch(promise) {
  const state = { now: 'pending' };
  promise.then(() => { state.now = 'resolved'; }, (e) => { state.now = e.code; });
  return state;
}

test('flush() with nothing outstanding resolves at once', async () => {
  const p = await connect(broker.port);
  await p.flush();
  await p.flush({ timeout: 0 });
  await Promise.all([p.send('a'), p.sendMany(['b', 'c'])]);
  const t0 = Date.now();
  await Promise.all([p.flush(), p.flush({ timeout: 0 }), p.flush({ timeout: -1 })]);
  assert.ok(Date.now() - t0 < 500, `flush took ${Date.now() - t0} ms`);
  // A flush's id comes from the messages' sequence: sends go on as before.
  await p.send('d');
  assert.deepEqual(await p.close(), { confirmed: 4, failed: 0, inFlight: 0 });
});

test('flush({ timeout }) rejects in the core\'s words and leaves the messages be', async (t) => {
  if (!(await stalledBroker(t))) return;
  const p = await connect(stalled.port);
  const one = watch(p.send('never confirmed'));
  const t0 = Date.now();
  await rejectsWith(p.flush({ timeout: 300 }), 'KMQ_ERR_TIMEOUT', /^flush: 1 message still unconfirmed after 300 ms$/);
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 3000, `flush took ${took} ms`);
  const many = watch(p.sendMany(['a', 'b']));
  await rejectsWith(p.flush({ timeout: 100 }), 'KMQ_ERR_TIMEOUT', /^flush: 3 messages still unconfirmed after 100 ms$/);
  assert.deepEqual([one.now, many.now], ['pending', 'pending'], 'a flush out of time fails no message');
  assert.equal(p.stats().inFlight, 3);
  await p.close({ timeout: 0 }).catch(() => {});
  assert.deepEqual([one.now, many.now], ['KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED']);
});

test('flush() rejects with how many of its messages failed and the last reason', async (t) => {
  if (!(await stalledBroker(t))) return;
  const p = await connect(stalled.port, { messageTimeoutMs: 300 });
  const sends = ['a', 'b', 'c'].map((m) => p.send(m).catch((e) => e));
  const flushing = p.flush();
  // Sent after the flush began (and failing with the others): not its concern.
  const later = p.send('later').catch((e) => e);
  await rejectsWith(flushing, 'KMQ_ERR_TIMEOUT',
    /^flush: 3 messages failed; the last because: message not confirmed within 300 ms \(message_timeout_ms\)/);
  for (const e of [...await Promise.all(sends), await later]) {
    assert.match(e.message, /^send: message not confirmed within 300 ms/);
  }
  const alone = p.send('alone').catch((e) => e);
  await rejectsWith(p.flush(), 'KMQ_ERR_TIMEOUT', /^flush: 1 message failed; the last because: message not confirmed/);
  assert.equal((await alone).code, 'KMQ_ERR_TIMEOUT');
  assert.deepEqual(await p.close(), { confirmed: 0, failed: 5, inFlight: 0 });
});

test('a send after close() began is refused with KMQ_ERR_CLOSED', async (t) => {
  if (!(await stalledBroker(t))) return;
  const p = await connect(stalled.port);
  const first = p.send('before the close').catch((e) => e);
  const closing = p.close({ timeout: 300 });
  assert.equal(p.closed, true);
  await rejectsWith(p.send('after'), 'KMQ_ERR_CLOSED');
  const e = await p.sendMany(['after', 'too']).catch((err) => err);
  assert.equal(e.code, 'KMQ_ERR_CLOSED');
  assert.equal(e.accepted, 0);
  await rejectsWith(p.flush(), 'KMQ_ERR_CLOSED');
  assert.equal(p.close({ timeout: 0 }), closing, 'closing again returns the first close');
  await rejectsWith(closing, 'KMQ_ERR_TIMEOUT', /^close: flush: 1 message still unconfirmed after 300 ms/);
  assert.equal((await first).code, 'KMQ_ERR_CLOSED');
  assert.equal(p.stats().enqueued, 1);
});

test('close() reports what became of the messages when the broker stalled', async (t) => {
  const own = await startBroker();
  t.after(() => own.stop());
  const p = await connect(own.port, { messageTimeoutMs: 600, reconnectMaxMs: 100 });
  await Promise.all([p.send('a'), p.send('b')]);
  // The broker comes back on the same port, storing but never confirming.
  await own.stop();
  let again;
  try {
    again = await startOn(own.port, ['--stall-acks']);
  } catch (e) {
    if (!e.skipReason) throw e;
    t.skip(e.skipReason);
    return;
  }
  t.after(() => again.stop());
  await rejectsWith(p.send('times out'), 'KMQ_ERR_TIMEOUT', /^send: message not confirmed within 600 ms/);
  const last = p.send('failed by the close').catch((e) => e);
  await assert.rejects(p.close({ timeout: 300 }), (e) => {
    assert.equal(e.code, 'KMQ_ERR_TIMEOUT');
    assert.equal(e.message, 'close: flush: 1 message still unconfirmed after 300 ms; they failed when the producer closed');
    assert.deepEqual(e.report, { confirmed: 2, failed: 1, inFlight: 1 });
    return true;
  });
  assert.equal((await last).code, 'KMQ_ERR_CLOSED');
  const s = p.stats();
  assert.deepEqual([s.confirmed, s.failed, s.inFlight], [2, 2, 0]);
});

test('close() after the library closed the producer for good settles everything', async (t) => {
  const keyed = await startBroker(['--secret-key', 'first']);
  t.after(() => keyed.stop());
  const p = await connect(keyed.port, { secretKey: 'first', reconnectMaxMs: 100 });
  await p.send('confirmed');
  // Back with another key: the reconnect is refused, and the library closes the producer.
  await keyed.stop();
  const other = await startOn(keyed.port, ['--secret-key', 'second']);
  t.after(() => other.stop());
  await rejectsWith(p.send('refused'), 'KMQ_ERR_AUTH');
  // The close cannot flush; it rejects with why the library closed, once closed.
  await assert.rejects(p.close(), (e) => {
    assert.equal(e.code, 'KMQ_ERR_AUTH');
    assert.deepEqual(e.report, { confirmed: 1, failed: 0, inFlight: 1 });
    return true;
  });
  assert.equal(p.closed, true);
  assert.equal(p.stats().confirmed, 1);
});
