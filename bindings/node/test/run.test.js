'use strict';
// consumer.run(): handlers with bounded concurrency, retries through delayed
// messages, a drain when the AbortSignal fires.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, Consumer, Retry } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');

let broker;
before(async () => {
  // Delayed messages are checked every 200 ms.
  broker = await startBroker(['--check-speed-ms', '200']);
});
after(() => broker.stop());

test('10,000 messages at concurrency 8, every 7th retried: each handled once, retries after their delay', async () => {
  const topic = uniqueTopic();
  const n = 10000;
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  await broker.consumerListed(topic);
  await p.sendMany(Array.from({ length: n }, (_, i) => `m${i}`));
  await p.close();
  const handled = new Map();
  const firstSeen = new Map();
  const delays = [];
  let active = 0;
  let most = 0;
  const stop = new AbortController();
  const watchdog = setTimeout(() => stop.abort(), 60000);
  const report = await c.run(async (m) => {
    active++;
    most = Math.max(most, active);
    try {
      const i = Number(m.text.slice(1));
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      if (i % 7 === 0 && !firstSeen.has(m.text)) {
        firstSeen.set(m.text, Date.now());
        throw new Retry(2);
      }
      if (i % 7 === 0) delays.push(Date.now() - firstSeen.get(m.text));
      handled.set(m.text, (handled.get(m.text) || 0) + 1);
      if (handled.size === n) stop.abort();
    } finally {
      active--;
    }
  }, { concurrency: 8, signal: stop.signal });
  clearTimeout(watchdog);
  assert.equal(handled.size, n);
  assert.ok([...handled.values()].every((v) => v === 1), 'a message was handled twice');
  // The node counts whole seconds: a 2 s delay is due up to a second early.
  assert.ok(Math.min(...delays) >= 1000, `a retry came back after ${Math.min(...delays)} ms`);
  assert.ok(most > 1 && most <= 8, `${most} handlers at once`);
  assert.equal(report.unacked, 0);
  assert.equal(report.unread, 0);
  assert.equal(c.closed, true);
});

test('a handler that throws leaves its message unacked, and the run drains on abort', async () => {
  const topic = uniqueTopic();
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  await broker.consumerListed(topic);
  await p.sendMany(['good', 'bad', 'fine']);
  await p.close();
  const seen = [];
  const stop = new AbortController();
  const report = await c.run((m) => {
    seen.push(m.text);
    if (seen.length === 3) stop.abort();
    if (m.text === 'bad') throw new Error('cannot handle this one');
  }, { signal: stop.signal });
  assert.deepEqual(seen, ['good', 'bad', 'fine']);
  assert.equal(report.unacked, 1);
});
