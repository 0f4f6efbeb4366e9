'use strict';
// Waiting receives and sends wait on the library's readiness descriptors,
// all in one poll(): they leave libuv's thread pool to fs, dns and crypto,
// cost nothing while idle, wake as soon as there is something to take, and
// leave nothing behind that keeps the process alive.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { Worker } = require('node:worker_threads');
const { Producer, Consumer } = require('..');
const { poller } = require('../lib/poller');
const { startBroker, startBrokerOrSkip, uniqueTopic } = require('../testing/broker');
const { runFixture } = require('../testing/run-fixture');
const { rejectsWith } = require('../testing/assertions');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` consumers, each on a topic of its own (its `topic`). */
function consumers(n, port = broker.port) {
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const topic = uniqueTopic('w');
    const c = await Consumer.connect({ topic, consumerId: `c${i}`, mqPort: port });
    c.topic = topic;
    return c;
  }));
}

/**
 * How long `rounds` file reads take one after the other. Each read is
 * several requests to libuv's pool (4 threads here): were every waiting
 * handle to hold a pool thread, each request would queue behind them.
 */
async function sequentialReads(rounds) {
  const t0 = Date.now();
  for (let i = 0; i < rounds; i++) await fs.promises.readFile(__filename);
  return Date.now() - t0;
}

/** Resolves once `n` descriptors are watched (or fails after 2 s). */
async function pollerWatching(n) {
  for (let waited = 0; poller.size !== n; waited += 10) {
    assert.ok(waited < 2000, `${poller.size} descriptor(s) watched, not ${n}`);
    await sleep(10);
  }
}

/** Resolves once no descriptor is watched any more (or fails after 2 s). */
const pollerIdle = () => pollerWatching(0);

test('8 consumers waiting in receive() leave the thread pool to file reads', { skip: process.env.UV_THREADPOOL_SIZE && 'UV_THREADPOOL_SIZE is set' }, async (t) => {
  const cs = await consumers(8);
  const receives = cs.map((c) => c.receive({ timeout: 10000 }));
  // Every wait has begun.
  await sleep(300);
  const ms = await sequentialReads(5);
  t.diagnostic(`5 file reads one after the other took ${ms} ms while 8 receives waited`);
  assert.ok(ms < 400, `5 file reads took ${ms} ms: waiting receives hold pool threads`);
  // And each receive still gets the message sent to its topic.
  await Promise.all(cs.map(async (c, i) => {
    const p = await Producer.connect({ topic: c.topic, producerId: `p${i}`, mqPort: broker.port });
    await p.send(`to c${i}`);
    await p.close();
  }));
  assert.deepEqual((await Promise.all(receives)).map((m) => m.text), cs.map((_, i) => `to c${i}`));
  await Promise.all(cs.map((c) => c.close()));
  await pollerIdle();
});

test('4 producers with unconfirmed sends leave the thread pool to file reads', { skip: process.env.UV_THREADPOOL_SIZE && 'UV_THREADPOOL_SIZE is set' }, async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  t.after(() => stalled.stop());
  const ps = await Promise.all([1, 2, 3, 4].map((i) => Producer.connect({
    topic: uniqueTopic('wp'), producerId: `p${i}`, mqPort: stalled.port,
  })));
  const cs = await consumers(4, stalled.port);
  const sends = ps.map((p) => p.send('never confirmed').catch((e) => e.code));
  const receives = cs.map((c) => c.receive().catch((e) => e.code));
  await sleep(300);
  const ms = await sequentialReads(5);
  t.diagnostic(`5 file reads one after the other took ${ms} ms while 4 sends and 4 receives waited`);
  assert.ok(ms < 400, `5 file reads took ${ms} ms: waiting sends hold pool threads`);
  await Promise.all(ps.map((p) => rejectsWith(p.close({ timeout: 0 }), 'KMQ_ERR_TIMEOUT')));
  await Promise.all(cs.map((c) => c.close()));
  assert.deepEqual(await Promise.all(sends), ['KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED']);
  assert.deepEqual(await Promise.all(receives), ['KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED']);
  await pollerIdle();
});

test('a waiting receive() costs next to nothing while idle', async (t) => {
  const { stdout } = await runFixture('idle-receive.js', [String(broker.port)]);
  const r = JSON.parse(stdout);
  t.diagnostic(`over ${r.idleMs} ms of a waiting receive: ${r.cpuMs} ms of CPU, ` +
    `the main thread woken ${r.mainThreadWakeups} time(s)`);
  assert.equal(r.receive, 'KMQ_ERR_CLOSED');
  // Only the fixture's own timer wakes the main thread; a wait in 200 ms
  // slices woke it more than 20 times.
  if (r.mainThreadWakeups !== null) {
    assert.ok(r.mainThreadWakeups <= 5, `the main thread was woken ${r.mainThreadWakeups} times`);
  }
  // A spinning wait would use the whole 1.5 s.
  assert.ok(r.cpuMs < 100, `${r.cpuMs} ms of CPU`);
});

test('messages and confirmations come at once while other handles are watched', async (t) => {
  const topic = uniqueTopic();
  const others = await consumers(3);
  const otherReceives = others.map((c) => c.receive().catch((e) => e.code));
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const receiveMs = [];
  const confirmMs = [];
  for (let i = 0; i < 9; i++) {
    // The receive starts waiting (its descriptor joins the running poll())
    // before the message is sent.
    const receiving = c.receive({ timeout: 5000 });
    await sleep(20);
    const t0 = performance.now();
    const sending = p.send(`m${i}`).then(() => confirmMs.push(performance.now() - t0));
    const m = await receiving;
    receiveMs.push(performance.now() - t0);
    assert.equal(m.text, `m${i}`);
    c.ack(m);
    await sending;
  }
  t.diagnostic(`send to receive: median ${median(receiveMs).toFixed(1)} ms; ` +
    `send to confirmation: median ${median(confirmMs).toFixed(1)} ms`);
  assert.ok(median(receiveMs) < 50, `receive took ${receiveMs.map(Math.round)} ms`);
  assert.ok(median(confirmMs) < 50, `confirmation took ${confirmMs.map(Math.round)} ms`);
  await Promise.all([p.close(), c.close(), ...others.map((o) => o.close())]);
  assert.deepEqual(await Promise.all(otherReceives), ['KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED']);
  await pollerIdle();
});

test('a receive() that timed out leaves nothing watched, and the process exits at once', async (t) => {
  const c = await Consumer.connect({ topic: uniqueTopic(), consumerId: 'c1', mqPort: broker.port });
  assert.equal(await c.receive({ timeout: 100 }), null);
  await pollerIdle();
  await c.close();

  const { stdout, ms } = await runFixture('exit-after-timeout.js', [String(broker.port)]);
  const { got, exitLagMs } = JSON.parse(stdout);
  t.diagnostic(`the process exited ${exitLagMs} ms after receive() gave null (${ms} ms in all)`);
  assert.equal(got, null);
  assert.ok(ms < 3000, `the process took ${ms} ms to exit`);
  // A wait in 200 ms slices kept it alive until its slice ended.
  assert.ok(exitLagMs < 100, `the process exited ${exitLagMs} ms after the receive timed out`);
});

test('close() while receives wait rejects them at once and lets go of the descriptor', async () => {
  const cs = await consumers(3);
  const t = [];
  const receives = cs.map((c, i) => c.receive().catch((e) => {
    t[i] = performance.now();
    return e;
  }));
  await sleep(100);
  const t0 = performance.now();
  cs[0].close();
  const e = await receives[0];
  assert.equal(e.code, 'KMQ_ERR_CLOSED');
  assert.match(e.message, /consumer is closed/);
  assert.ok(t[0] - t0 < 50, `receive rejected ${t[0] - t0} ms after close()`);
  // The others go on waiting.
  await pollerWatching(2);
  await sleep(50);
  assert.equal(poller.size, 2);
  assert.deepEqual(t.slice(1), []);
  await Promise.all(cs.slice(1).map((c) => c.close()));
  assert.deepEqual((await Promise.all(receives)).map((r) => r.code), ['KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED', 'KMQ_ERR_CLOSED']);
  await pollerIdle();
});

test('the last receive() timing out stops the wait; a new one starts it again', async () => {
  const topic = uniqueTopic();
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  const r1 = c.receive({ timeout: 50 });
  const r2 = c.receive({ timeout: 150 });
  await sleep(100);
  assert.equal(await r1, null);
  assert.equal(poller.size, 1, 'a receive still waits');
  assert.equal(await r2, null);
  await pollerIdle();
  // A message that comes while nobody waits stays for the next receive().
  await p.send('kept');
  await sleep(100);
  assert.equal((await c.receive({ timeout: 5000 })).text, 'kept');
  const r3 = c.receive({ timeout: 5000 });
  await p.send('after');
  assert.equal((await r3).text, 'after');
  await Promise.all([p.close(), c.close()]);
  await pollerIdle();
});

test('a worker thread with a waiting receive() can be terminated', async () => {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Consumer } = require(workerData.pkg);
    Consumer.connect({ topic: workerData.topic, consumerId: 'c1', mqPort: workerData.port }).then((c) => {
      c.receive().catch(() => {});
      setTimeout(() => parentPort.postMessage('waiting'), 100);
    });
  `;
  const w = new Worker(code, { eval: true, workerData: { pkg: path.join(__dirname, '..'), topic: uniqueTopic(), port: broker.port } });
  await once(w, 'message');
  const t0 = Date.now();
  // Node ends a worker only once the pool calls it started have returned.
  const ms = await Promise.race([w.terminate().then(() => Date.now() - t0), sleep(5000).then(() => Infinity)]);
  assert.ok(ms < 2000, `terminate() took ${ms} ms`);
});
