'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, Consumer, Message, version } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

async function pair(topic = uniqueTopic()) {
  const common = { topic, mqAddr: '127.0.0.1', mqPort: broker.port, secretKey: 'test' };
  const p = await Producer.connect({ ...common, producerId: 'p1' });
  const c = await Consumer.connect({ ...common, consumerId: 'c1' });
  await broker.consumerListed(topic);
  return { p, c, topic };
}

test('version is MAJOR.MINOR.PATCH', () => {
  assert.match(version(), /^\d+\.\d+\.\d+$/);
});

test('a string round-trips with multi-byte UTF-8 and NUL', async () => {
  const { p, c, topic } = await pair();
  const text = 'héllo\0wörld — 東京 😀';
  await p.send(text, { delay: 0 });
  const m = await c.receive({ timeout: 5000 });
  assert.ok(m instanceof Message);
  assert.equal(m.text, text);
  assert.deepEqual(m.data, Buffer.from(text, 'utf8'));
  assert.equal(m.topic, topic);
  assert.match(m.code, /^[0-9a-f]{32}$/);
  assert.ok(Math.abs(m.createTime - Date.now() / 1000) < 3600, `createTime ${m.createTime}`);
  assert.equal(m.delayTime, 0);
  assert.equal(typeof m.consumedTime, 'number');
  assert.equal(typeof m.status, 'number');
  c.ack(m);
  p.close();
  c.close();
});

test('a Buffer round-trips byte for byte, also a slice of a larger buffer', async () => {
  const { p, c } = await pair();
  const bytes = Buffer.from([0x00, 0x41, 0x00, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0x00]);
  const big = Buffer.concat([Buffer.from('xxxx'), bytes, Buffer.from('yyyy')]);
  await p.send(bytes);
  await p.send(big.subarray(4, 4 + bytes.length));
  for (let i = 0; i < 2; i++) {
    const m = await c.receive({ timeout: 5000 });
    assert.deepEqual(m.data, bytes);
    c.ack(m.code);
  }
  p.close();
  c.close();
});

test('10,000 messages are all confirmed and all received', async () => {
  const { p, c } = await pair();
  const n = 10000;
  const sends = [];
  for (let i = 0; i < n; i++) sends.push(p.send(`m${i}`));
  await Promise.all(sends);
  assert.equal(p.stats().confirmed, n);
  const seen = new Set();
  while (seen.size < n) {
    const m = await c.receive({ timeout: 5000 });
    assert.ok(m, `only ${seen.size} of ${n} received`);
    seen.add(m.text);
    c.ack(m);
  }
  for (let i = 0; i < n; i++) assert.ok(seen.has(`m${i}`), `m${i} missing`);
  assert.equal(await c.receive({ timeout: 200 }), null, 'nothing beyond what was sent');
  const stats = c.stats();
  assert.equal(stats.acked, n);
  p.close();
  c.close();
});

test('flush resolves once everything sent before it is confirmed', async () => {
  const { p, c } = await pair();
  for (let i = 0; i < 500; i++) p.send(`f${i}`);
  await p.flush();
  const s = p.stats();
  assert.equal(s.confirmed, 500);
  assert.equal(s.inFlight, 0);
  await p.flush({ timeout: 0 }); // nothing pending: no wait needed
  p.close();
  c.close();
});

test('receive times out with null, and a later message goes to the next receive', async () => {
  const { p, c } = await pair();
  const t0 = Date.now();
  assert.equal(await c.receive({ timeout: 150 }), null);
  assert.ok(Date.now() - t0 >= 140);
  assert.equal(await c.receive({ timeout: 0 }), null);
  const waiting = c.receive({ timeout: 5000 });
  await p.send('late');
  assert.equal((await waiting).text, 'late');
  p.close();
  c.close();
});

test('concurrent receives are served in order, one message each', async () => {
  const { p, c } = await pair();
  const r = [c.receive({ timeout: 5000 }), c.receive({ timeout: 5000 }), c.receive({ timeout: 5000 })];
  await Promise.all(['a', 'b', 'c'].map((s) => p.send(s)));
  const got = (await Promise.all(r)).map((m) => m.text).sort();
  assert.deepEqual(got, ['a', 'b', 'c']);
  p.close();
  c.close();
});

test('for await yields messages and ends when the consumer is closed', async () => {
  const { p, c } = await pair();
  await Promise.all(['1', '2', '3'].map((s) => p.send(s)));
  const got = [];
  for await (const m of c) {
    got.push(m.text);
    c.ack(m);
    if (got.length === 3) setTimeout(() => c.close(), 50);
  }
  assert.deepEqual(got.sort(), ['1', '2', '3']);
  p.close();
});

test('stats count what was sent and received', async () => {
  const { p, c } = await pair();
  await Promise.all([p.send('s1'), p.send('s2')]);
  assert.deepEqual(
    Object.keys(p.stats()).sort(),
    ['confirmed', 'enqueued', 'failed', 'inFlight', 'reconnects', 'resent'],
  );
  assert.equal(p.stats().enqueued, 2);
  const m1 = await c.receive({ timeout: 5000 });
  c.ack(m1);
  await c.receive({ timeout: 5000 });
  const s = c.stats();
  assert.equal(s.received, 2);
  assert.equal(s.acked, 1);
  assert.deepEqual(Object.keys(s).sort(), ['acked', 'badFrames', 'buffered', 'received', 'reconnects']);
  p.close();
  c.close();
});
