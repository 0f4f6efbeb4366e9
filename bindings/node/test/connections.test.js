'use strict';
// A producer with more than one connection per node (the connections option).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, KapokMQError } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

test('each connection counts its share of the messages', async () => {
  const p = await Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: broker.port, connections: 3 });
  let links = p.connectionStats();
  assert.equal(links.length, 3);
  for (const l of links) {
    assert.equal(l.node, `127.0.0.1:${broker.port}`);
    assert.equal(l.connected, true);
  }
  await p.sendMany(Array.from({ length: 3000 }, (_, i) => `m${i}`));
  links = p.connectionStats();
  assert.equal(links.reduce((sum, l) => sum + l.confirmed, 0), 3000);
  assert.equal(links.reduce((sum, l) => sum + l.written, 0), 3000);
  assert.ok(links.every((l) => l.inFlight === 0));
  assert.equal(p.stats().confirmed, 3000);
  await p.close();
  assert.throws(() => p.connectionStats(), (e) => e instanceof KapokMQError && e.code === 'KMQ_ERR_CLOSED');
});

test('the number of connections is checked', async () => {
  await assert.rejects(
    Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: broker.port, connections: 0 }),
    (e) => e instanceof KapokMQError && e.code === 'KMQ_ERR_INVALID_ARGUMENT' && /connections/.test(e.message),
  );
});
