'use strict';
// drain(): stop taking pushes, let the handlers finish, close; the report
// accounts for every message, and a drained client lets the process exit.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { Producer, Consumer, KapokMQError } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

async function buffered(c, n) {
  const until = Date.now() + 10000;
  while (c.stats().buffered < n) {
    assert.ok(Date.now() < until, `only ${c.stats().buffered} of ${n} buffered`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a drain waits for a for-await loop to handle everything, then closes', async () => {
  const topic = uniqueTopic();
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  await broker.consumerListed(topic);
  await p.sendMany(Array.from({ length: 300 }, (_, i) => `m${i}`));
  await buffered(c, 300);
  const handled = [];
  const loop = (async () => {
    for await (const m of c) {
      handled.push(m.text);
      c.ack(m);
    }
  })();
  const report = await c.drain({ timeout: 30000 });
  await loop;
  assert.deepEqual(handled, Array.from({ length: 300 }, (_, i) => `m${i}`));
  assert.equal(report.unacked, 0);
  assert.equal(report.unread, 0);
  assert.ok(report.handedOut <= report.acked && report.acked <= 300, JSON.stringify(report));
  assert.equal(c.closed, true);
  await assert.rejects(c.drain(), (e) => e instanceof KapokMQError && e.code === 'KMQ_ERR_CLOSED');
  await p.close();
});

test('a drain with a deadline counts what was never received as unread', async () => {
  const topic = uniqueTopic();
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  await broker.consumerListed(topic);
  await p.sendMany(Array.from({ length: 200 }, (_, i) => `m${i}`));
  await buffered(c, 200);
  const unacked = await c.receive({ timeout: 5000 });
  assert.ok(unacked);
  const started = Date.now();
  const report = await c.drain({ timeout: 300 });
  assert.ok(Date.now() - started >= 250, 'the drain waited for its deadline');
  assert.deepEqual(report, { handedOut: 0, acked: 0, unacked: 1, unread: 199 });
  await p.close();
});

test('a script that drains and returns exits by itself', () => {
  const script = `
    const { Consumer } = require(${JSON.stringify(path.join(__dirname, '..'))});
    (async () => {
      const c = await Consumer.connect({ topic: 't', consumerId: 'c1', mqPort: ${broker.port} });
      console.log(JSON.stringify(await c.drain({ timeout: 1000 })));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { handedOut: 0, acked: 0, unacked: 0, unread: 0 });
});
