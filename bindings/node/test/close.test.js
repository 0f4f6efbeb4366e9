'use strict';
// close(): flushes a producer first, never blocks the event loop, leaves the
// counters readable, and is what `await using` calls.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, Consumer, Console } = require('..');
const { startBroker, startBrokerOrSkip, uniqueTopic } = require('../testing/broker');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

const opts = (topic, extra) => ({ topic, mqPort: broker.port, ...extra });

/** Runs `work` and measures the longest the event loop went without a 5 ms timer tick. */
async function longestStall(work) {
  let last = Date.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  const t0 = Date.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  longest = Math.max(longest, Date.now() - last);
  return { longest, took: Date.now() - t0 };
}

test('close() flushes first: 1000 unawaited sends are all confirmed, none fails', async () => {
  const topic = uniqueTopic();
  const c = await Consumer.connect(opts(topic, { consumerId: 'c1' }));
  const p = await Producer.connect(opts(topic, { producerId: 'p1' }));
  const outcomes = [];
  for (let i = 0; i < 1000; i++) {
    p.send(`m${i}`).then(() => outcomes.push('ok'), (e) => outcomes.push(e.code));
  }
  await p.close();
  // Every send settled before close resolved, and each was confirmed.
  assert.equal(outcomes.length, 1000);
  assert.deepEqual([...new Set(outcomes)], ['ok']);
  const stats = p.stats();
  assert.equal(stats.confirmed, 1000);
  assert.equal(stats.failed, 0);
  assert.equal(stats.inFlight, 0);

  const seen = new Set();
  while (seen.size < 1000) {
    const m = await c.receive({ timeout: 5000 });
    assert.notEqual(m, null, `only ${seen.size} of 1000 messages arrived`);
    seen.add(m.text);
    c.ack(m);
  }
  assert.equal(await c.receive({ timeout: 300 }), null, 'a message arrived twice');
  await c.close();
  assert.equal(c.stats().received, 1000);
});

test('close({ timeout }) bounds the flush, and rejects naming the messages that failed', async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  t.after(() => stalled.stop());
  const p = await Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: stalled.port });
  // Its failure comes while close() is awaited: caught from the start.
  const send = p.send('never confirmed').catch((e) => e);
  const { took } = await longestStall(() => assert.rejects(p.close({ timeout: 400 }), (e) => {
    assert.equal(e.code, 'KMQ_ERR_TIMEOUT');
    assert.equal(e.message, 'close: flush: 1 message still unconfirmed after 400 ms; they failed when the producer closed');
    assert.deepEqual(e.report, { confirmed: 0, failed: 0, inFlight: 1 });
    return true;
  }));
  assert.ok(took >= 350 && took < 3000, `close took ${took} ms`);
  assert.equal((await send).code, 'KMQ_ERR_CLOSED');
  assert.equal(p.stats().failed, 1);
});

test('close() waits off the event loop for a broker that stopped reading', async (t) => {
  const frozen = await startBroker();
  t.after(() => frozen.stop());
  const topic = uniqueTopic();
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: frozen.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: frozen.port });
  // A stopped broker reads nothing: once the socket buffers are full of
  // acks, the native close waits (up to its grace period) to write the rest.
  frozen.freeze();
  for (let n = 0; n < 300000; n++) c.ack(n.toString(16).padStart(32, '0'));
  const big = Buffer.alloc(1 << 20, 97);
  const sends = Array.from({ length: 20 }, () => p.send(big).catch((e) => e.code));
  const consumer = await longestStall(() => c.close());
  const producer = await longestStall(() => assert.rejects(p.close({ timeout: 0 }), { code: 'KMQ_ERR_TIMEOUT' }));
  for (const [what, r] of Object.entries({ consumer, producer })) {
    assert.ok(r.longest < 150, `${what} close stalled the event loop for ${r.longest} ms (close took ${r.took} ms)`);
  }
  // Were the close made on the event loop, it would have stalled it this long.
  assert.ok(consumer.took >= 300, `consumer close took only ${consumer.took} ms: the test proves nothing`);
  assert.equal(c.stats().received, 0);
  assert.deepEqual([...new Set(await Promise.all(sends))], ['KMQ_ERR_CLOSED']);
});

test('Symbol.asyncDispose closes, flushing a producer first', async () => {
  const topic = uniqueTopic();
  const c = await Consumer.connect(opts(topic, { consumerId: 'c1' }));
  const p = await Producer.connect(opts(topic, { producerId: 'p1' }));
  const con = Console.create({ mqPort: broker.port, secretKey: 'test' });
  for (const h of [p, c, con]) assert.equal(typeof h[Symbol.asyncDispose], 'function');
  let confirmed = 0;
  for (let i = 0; i < 100; i++) p.send(`d${i}`).then(() => confirmed++);
  await p[Symbol.asyncDispose]();
  assert.equal(confirmed, 100);
  await c[Symbol.asyncDispose]();
  await con[Symbol.asyncDispose]();
  assert.ok(p.closed && c.closed && con.closed);
});

// `await using` is syntax newer Nodes parse; where this one does not, the
// test above covers the method it calls.
let AsyncFunction;
try {
  AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  // eslint-disable-next-line no-new
  new AsyncFunction('await using x = null;');
} catch {
  AsyncFunction = null;
}

test('await using closes a producer and a consumer', { skip: AsyncFunction === null && 'this Node does not parse await using' }, async () => {
  const topic = uniqueTopic();
  const scope = new AsyncFunction('Producer', 'Consumer', 'o', `
    await using p = await Producer.connect(o('p1'));
    await using c = await Consumer.connect(o('c1'));
    p.send('x');
    return [p, c];
  `);
  const [p, c] = await scope(Producer, Consumer, (id) => opts(topic, id.startsWith('p') ? { producerId: id } : { consumerId: id }));
  assert.ok(p.closed && c.closed);
  assert.equal(p.stats().confirmed, 1);
});

test('close() resolves to what became of the messages', async () => {
  const p = await Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: broker.port });
  await Promise.all(Array.from({ length: 50 }, (_, i) => p.send(`m${i}`)));
  p.send('one more, confirmed by the close\'s flush').catch(() => {});
  const report = await p.close({ timeout: 10000 });
  assert.deepEqual(report, { confirmed: 51, failed: 0, inFlight: 0 });
  assert.deepEqual(await p.close(), report, 'closing again returns the first close');
});
