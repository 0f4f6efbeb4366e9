'use strict';
// sendMany(): a batch in one call into the library, settled once every
// message is; a refusal keeps the messages before it and says how many.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, ClusterProducer, Consumer, KapokMQError } = require('..');
const { startBroker, startBrokerOrSkip, uniqueTopic } = require('../testing/broker');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

const opts = (b, topic, extra) => ({ topic, mqPort: b.port, ...extra });

async function pair(topic = uniqueTopic()) {
  const c = await Consumer.connect(opts(broker, topic, { consumerId: 'c1' }));
  const p = await Producer.connect(opts(broker, topic, { producerId: 'p1' }));
  await broker.consumerListed(topic);
  return { p, c };
}

/** `n` messages' texts, acked; then checks nothing more comes within `quiet` ms. */
async function receiveTexts(c, n, quiet = 0) {
  const got = [];
  while (got.length < n) {
    const m = await c.receive({ timeout: 10000 });
    assert.ok(m, `only ${got.length} of ${n} messages came`);
    got.push(m.text);
    c.ack(m);
  }
  if (quiet > 0) assert.equal(await c.receive({ timeout: quiet }), null, 'nothing beyond what was sent');
  return got;
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

test('1000 messages in one call: all confirmed, received in order', async () => {
  const { p, c } = await pair();
  const texts = Array.from({ length: 1000 }, (_, i) => `batch ${String(i).padStart(4, '0')}`);
  await p.sendMany(texts);
  const stats = p.stats();
  assert.equal(stats.enqueued, 1000);
  assert.equal(stats.confirmed, 1000);
  assert.deepEqual(await receiveTexts(c, 1000), texts);
  await p.close();
  await c.close();
});

test('strings with multi-byte UTF-8 and NUL, Buffers, slices and iterables', async () => {
  const { p, c } = await pair();
  const utf8 = ['héllo\0wörld', '東京 😀', 'plain'];
  await p.sendMany(utf8);
  const big = Buffer.from('xxxxsliceyyyy');
  await p.sendMany(['mixed', Buffer.from('bytes'), big.subarray(4, 9), new Uint8Array([0x41, 0x00, 0x42])]);
  await p.sendMany(new Set(['from', 'a set']), { delay: 0 });
  await p.sendMany([]);
  assert.deepEqual(await receiveTexts(c, 9, 300),
    [...utf8, 'mixed', 'bytes', 'slice', 'A\0B', 'from', 'a set']);
  await p.close();
  await c.close();
});

test('wrong types reject at once with KMQ_ERR_INVALID_ARGUMENT, nothing sent', async () => {
  const { p, c } = await pair();
  for (const [bad, pattern] of [
    ['one string', /array/],
    [null, /array/],
    [['fine', 42], /messages\[1\]/],
    [['fine', null], /messages\[1\]/],
  ]) {
    const e = await rejection(p.sendMany(bad));
    assert.ok(e instanceof KapokMQError);
    assert.equal(e.code, 'KMQ_ERR_INVALID_ARGUMENT');
    assert.match(e.message, pattern);
    assert.equal(e.accepted, 0);
  }
  const e = await rejection(p.sendMany(['x'], { delay: -1 }));
  assert.equal(e.code, 'KMQ_ERR_INVALID_ARGUMENT');
  assert.equal(p.stats().enqueued, 0);
  await p.close();
  await c.close();
});

test('a bad message stops the batch at its index; the ones before it are delivered', async () => {
  const { p, c } = await pair();
  const notUtf8 = Buffer.from([0x6d, 0xff]);
  let e = await rejection(p.sendMany(['m0', 'm1', 'm2', notUtf8, 'm4']));
  assert.equal(e.code, 'KMQ_ERR_INVALID_ARGUMENT');
  assert.equal(e.accepted, 3);
  assert.match(e.message, /3 of 5 messages enqueued, stopped at msgs\[3\].*UTF-8/);
  e = await rejection(p.sendMany(['e0', '', 'e2']));
  assert.equal(e.accepted, 1);
  assert.match(e.message, /msgs\[1\].*empty/);
  // Rejected only once the ones enqueued were confirmed.
  assert.equal(p.stats().inFlight, 0);
  assert.deepEqual(await receiveTexts(c, 4, 300), ['m0', 'm1', 'm2', 'e0']);
  await p.close();
  await c.close();
});

test('queue full part-way: accepted says how many, rejected once they settled', async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  try {
    const p = await Producer.connect(opts(stalled, uniqueTopic(),
      { producerId: 'p1', queueMax: 10, messageTimeoutMs: 300 }));
    const held = p.sendMany(['h0', 'h1', 'h2', 'h3']).catch((err) => err);
    const e = await rejection(p.sendMany(Array.from({ length: 25 }, (_, i) => `m${i}`)));
    assert.equal(e.code, 'KMQ_ERR_QUEUE_FULL');
    assert.equal(e.accepted, 6);
    assert.match(e.message, /6 of 25 messages enqueued, stopped at msgs\[6\].*queue_max/);
    assert.equal(p.stats().inFlight, 0);
    // The four held before timed out: the first failure, by position.
    const first = await held;
    assert.equal(first.code, 'KMQ_ERR_TIMEOUT');
    assert.equal(first.accepted, 4);
    assert.match(first.message, /^sendMany: 4 of 4 messages failed; the first, messages\[0\]: /);
    await p.close().catch(() => {});
  } finally {
    await stalled.stop();
  }
});

test('flush waits for a batch, and counts its messages', async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  try {
    const p = await Producer.connect(opts(stalled, uniqueTopic(), { producerId: 'p1' }));
    const batch = p.sendMany(['a', 'b', 'c']).catch((err) => err);
    const e = await rejection(p.flush({ timeout: 200 }));
    assert.equal(e.code, 'KMQ_ERR_TIMEOUT');
    assert.equal(e.message, 'flush: 3 messages still unconfirmed after 200 ms');
    await p.close({ timeout: 0 }).catch(() => {});
    const closed = await batch;
    assert.equal(closed.code, 'KMQ_ERR_CLOSED');
    assert.equal(closed.accepted, 3);
  } finally {
    await stalled.stop();
  }
});

test('a closed producer enqueues none', async () => {
  const { p, c } = await pair();
  await p.close();
  const e = await rejection(p.sendMany(['x']));
  assert.equal(e.code, 'KMQ_ERR_CLOSED');
  assert.equal(e.accepted, 0);
  await c.close();
});

test('a cluster producer sends batches', async () => {
  const registry = await startBroker(['--registry']);
  const node = await startBroker(['--join', `127.0.0.1:${registry.port}`]);
  try {
    const topic = uniqueTopic();
    const common = { topic, registryAddr: '127.0.0.1', registryPort: registry.port, mqPort: 1 };
    const p = await ClusterProducer.connect({ ...common, producerId: 'p1' });
    await p.sendMany(Array.from({ length: 50 }, (_, i) => `cluster ${i}`));
    assert.equal(p.stats().confirmed, 50);
    await p.close();
  } finally {
    await node.stop();
    await registry.stop();
  }
});
