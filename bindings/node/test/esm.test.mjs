// The package as an ES module: the default import is what require() gives,
// named imports are its members, and a client made through them works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import kmq, { Producer, Consumer, KapokMQError, Status, version } from 'kapokmq';

const require = createRequire(import.meta.url);
const { startBroker, uniqueTopic } = require('../testing/broker.js');

test('the default import is the CommonJS module, named imports its members', () => {
  const cjs = require('kapokmq');
  assert.equal(kmq, cjs);
  assert.equal(Producer, cjs.Producer);
  assert.equal(Consumer, cjs.Consumer);
  assert.equal(KapokMQError, cjs.KapokMQError);
  assert.equal(Status.KMQ_OK, 0);
  assert.match(version(), /^\d+\.\d+\.\d+$/);
  // Every export of the CommonJS module is a named import too.
  return import('kapokmq').then((ns) => {
    assert.deepEqual(Object.keys(ns).filter((k) => k !== 'default').sort(), Object.keys(cjs).sort());
  });
});

test('a message round-trips through named imports', async (t) => {
  const broker = await startBroker();
  t.after(() => broker.stop());
  const topic = uniqueTopic();
  const c = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port });
  await p.send('from esm');
  const m = await c.receive({ timeout: 5000 });
  assert.equal(m.text, 'from esm');
  c.ack(m);
  await Promise.all([p.close(), c.close()]);
});
