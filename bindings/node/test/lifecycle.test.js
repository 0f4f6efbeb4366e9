'use strict';
// The event loop never waits on the network, handles are released, and a
// process exits once the application has closed what it opened.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Producer, Consumer } = require('..');
const { startBroker, startBrokerOrSkip, uniqueTopic } = require('../testing/broker');
const { runFixture } = require('../testing/run-fixture');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

/** Counts the ticks of a 10 ms interval while `work` runs. */
async function ticksDuring(work) {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

test('the event loop keeps running while a receive waits', async () => {
  const c = await Consumer.connect({ topic: uniqueTopic(), consumerId: 'c1', mqPort: broker.port });
  let got;
  const ticks = await ticksDuring(async () => {
    got = await c.receive({ timeout: 600 });
  });
  assert.equal(got, null);
  // 60 if the timer never waited; a blocked loop would give 0 or 1.
  assert.ok(ticks >= 30, `only ${ticks} ticks in 600 ms`);
  c.close();
});

test('the event loop keeps running while a connect waits for a silent server', async (t) => {
  const silent = await startBrokerOrSkip(t, ['--silent']);
  if (!silent) return;
  t.after(() => silent.stop());
  const ticks = await ticksDuring(() => assert.rejects(
    Consumer.connect({ topic: 't', consumerId: 'c', mqPort: silent.port, connectTimeoutMs: 500 }),
    { code: 'KMQ_ERR_CONNECT' },
  ));
  assert.ok(ticks >= 25, `only ${ticks} ticks in 500 ms`);
});

test('100,000 sends in flight leave the libuv thread pool free', async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  t.after(() => stalled.stop());
  const p = await Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: stalled.port });
  const sends = [];
  for (let i = 0; i < 100000; i++) sends.push(p.send(`s${i}`).catch((e) => e.code));
  // File reads run on the same pool of 4 threads: they would queue behind
  // any pool thread that each waiting send held.
  const reads = Array.from({ length: 8 }, () => fs.promises.readFile(__filename));
  const t0 = Date.now();
  await Promise.all(reads);
  assert.ok(Date.now() - t0 < 1000, `file reads took ${Date.now() - t0} ms`);
  assert.equal(p.stats().inFlight, 100000);
  p.close();
  const codes = new Set(await Promise.all(sends));
  assert.deepEqual([...codes], ['KMQ_ERR_CLOSED']);
});

test('several connects at once all succeed', async () => {
  const topic = uniqueTopic();
  const handles = await Promise.all([
    ...[1, 2, 3].map((i) => Producer.connect({ topic, producerId: `p${i}`, mqPort: broker.port })),
    ...[1, 2, 3].map((i) => Consumer.connect({ topic, consumerId: `c${i}`, mqPort: broker.port })),
  ]);
  await Promise.all(handles.slice(0, 3).map((p, i) => p.send(`from ${i}`)));
  for (const h of handles) h.close();
});

test('a process with a waiting receive and unconfirmed sends exits once it closes them', async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  t.after(() => stalled.stop());
  const { stdout, ms } = await runFixture('exit-after-close.js', [String(stalled.port)]);
  assert.equal(stdout, 'receive KMQ_ERR_CLOSED,send KMQ_ERR_CLOSED');
  assert.ok(ms < 5000, `took ${ms} ms to exit`);
});

test('unawaited sends keep the process alive until confirmed, then it exits', async () => {
  const { stdout } = await runFixture('unawaited-sends.js', [String(broker.port)]);
  const { confirmed, stats } = JSON.parse(stdout);
  assert.equal(confirmed, 1000);
  assert.equal(stats.confirmed, 1000);
  assert.equal(stats.inFlight, 0);
});

test('a consumer dropped without close() is released when collected', async () => {
  const { stdout } = await runFixture('gc.js', [String(broker.port)], ['--expose-gc']);
  const { before: listed, freed } = JSON.parse(stdout);
  assert.ok(listed.includes('dropped'), `broker lists ${listed}`);
  assert.equal(freed, true, 'the dropped consumer was never disconnected');
});
