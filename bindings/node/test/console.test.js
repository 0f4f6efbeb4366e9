'use strict';
// The console (a node's HTTP API) against a real broker.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Console, Consumer, Producer } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');
const { rejectsWith } = require('../testing/assertions');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

const DAY_MS = 24 * 3600 * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Codes of the messages on `topic` with `status`, newest first (a window wide enough for any time zone). */
async function listed(c, topic, status = 3) {
  const now = Date.now();
  const list = await c.listMessages(new Date(now - DAY_MS), new Date(now + DAY_MS), { status, topic });
  return list.map((m) => m.MessageCode);
}

/** `probe()` once `done` holds for it; the last value after `ms`. */
async function eventually(probe, done, ms = 5000) {
  const giveUp = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > giveUp) return value;
    await sleep(50);
  }
}

/** A port that accepts connections (the kernel does) and never answers; close() when done. */
async function silentServer() {
  const srv = net.createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const sockets = new Set();
  srv.on('connection', (s) => sockets.add(s));
  return {
    port: srv.address().port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => srv.close(r));
    },
  };
}

test('a sent message is stored, counted and listed', async (t) => {
  const own = await startBroker();
  t.after(() => own.stop());
  const c = Console.create({ mqPort: own.port });
  const topic = uniqueTopic();
  await c.ping();
  const codes = [await c.send(topic, 'héllo ✓'), await c.send(topic, Buffer.from('bytes ✓'))];
  const other = await c.send(`${topic}-other`, 'elsewhere');
  for (const code of [...codes, other]) assert.match(code, /^[0-9a-f]{32}$/);
  const stored = await c.getMessage(codes[0]);
  assert.equal(stored.MessageCode, codes[0]);
  assert.equal(stored.Topic, topic);
  assert.equal(stored.MessageData, 'héllo ✓');
  assert.equal(stored.Status, -1);
  assert.equal((await c.getMessage(codes[1])).MessageData, 'bytes ✓');
  assert.deepEqual(await c.count(), { all: 3, consumed: 0, delay: 0, unconsumed: 3 });
  // Only the topic asked for, newest first by CreateTime (whole seconds:
  // the node leaves the order within one second open); every topic with ''.
  assert.deepEqual([...await listed(c, topic)].sort(), [...codes].sort());
  assert.deepEqual(new Set(await listed(c, '')), new Set([...codes, other]));
  assert.deepEqual(await c.listMessages('2001-01-01 00:00:00', '2001-01-02 00:00:00'), []);
  c.close();
});

test('statuses follow delivery and delay', async () => {
  const topic = uniqueTopic();
  const c = Console.create({ mqPort: broker.port });
  const consumer = await Consumer.connect({ topic, consumerId: 'c1', mqPort: broker.port });
  // The node lists a consumer a moment after its handshake, and pushes only
  // to listed ones: wait for it, as the node gives no other sign.
  await eventually(() => c.clients(), (cl) => cl.consumers.some((x) => x.Topic === topic));
  const code = await c.send(topic, 'over http');
  const delayed = await c.send(topic, 'in an hour', { delay: 3600 });
  const m = await consumer.receive({ timeout: 5000 });
  assert.ok(m);
  assert.equal(m.code, code);
  assert.equal(m.text, 'over http');
  consumer.ack(m);
  assert.deepEqual(await eventually(() => listed(c, topic, 1), (codes) => codes.length > 0), [code]);
  assert.equal((await c.getMessage(code)).Status, 1);
  assert.deepEqual(await listed(c, topic, 0), [delayed]);
  assert.equal((await c.getMessage(delayed)).DelayTime, 3600);
  assert.deepEqual(await listed(c, topic, -1), []);
  consumer.close();
  c.close();
});

test('deleteMessage removes a stored message', async () => {
  const c = Console.create({ mqPort: broker.port });
  const code = await c.send(uniqueTopic(), 'short-lived');
  await c.deleteMessage(code);
  assert.equal(await c.getMessage(code), null);
  await c.deleteMessage(code); // gone already: no error
  assert.equal(await c.getMessage('0'.repeat(32)), null);
  c.close();
});

test('clients lists the connected producers and consumers', async (t) => {
  const own = await startBroker();
  t.after(() => own.stop());
  const c = Console.create({ mqPort: own.port });
  assert.deepEqual(await c.clients(), { consumers: [], producers: [] });
  const topic = uniqueTopic();
  const consumer = await Consumer.connect({ topic, consumerId: 'c1', mqPort: own.port });
  const producer = await Producer.connect({ topic, producerId: 'p1', mqPort: own.port });
  const { consumers, producers } = await c.clients();
  producer.close();
  consumer.close();
  assert.deepEqual(consumers.map((x) => [x.ConsumerId, x.Topic]), [['c1', topic]]);
  assert.deepEqual(producers.map((x) => [x.ProducerId, x.Topic]), [['p1', topic]]);
  c.close();
});

test('serverConfig shows the node settings', async (t) => {
  const own = await startBroker(['--push-count', '77', '--push-mode', '2']);
  t.after(() => own.stop());
  const c = Console.create({ mqPort: own.port });
  const config = await c.serverConfig();
  c.close();
  assert.equal(config.pushCount, 77);
  assert.equal(config.pushType, 2);
});

test('nodes: null for a single node, the cluster for a member', async (t) => {
  const registry = await startBroker(['--registry']);
  const member = await startBroker(['--join', `127.0.0.1:${registry.port}`, '--heartbeat-ms', '100']);
  t.after(() => Promise.all([member.stop(), registry.stop()]));
  const single = Console.create({ mqPort: broker.port });
  assert.equal(await single.nodes(), null);
  single.close();
  const c = Console.create({ mqPort: member.port });
  const nodes = await eventually(() => c.nodes(), (list) => Array.isArray(list) && list.length > 0);
  c.close();
  assert.deepEqual(nodes.map((n) => [n.Addr, n.Port]), [['127.0.0.1', String(member.port)]]);
});

test('errors carry the library message, read on the thread of the call', async (t) => {
  const keyed = await startBroker(['--secret-key', 'right']);
  t.after(() => keyed.stop());
  const wrong = Console.create({ mqPort: keyed.port, secretKey: 'wrong' });
  await rejectsWith(wrong.ping(), 'KMQ_ERR_AUTH', /Secret key/);
  await rejectsWith(wrong.send('t', 'x'), 'KMQ_ERR_AUTH', /Secret key/);
  wrong.close();
  const right = Console.create({ mqPort: keyed.port, secretKey: 'right' });
  await right.ping();
  right.close();

  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  const unreachable = Console.create({ mqPort: port });
  await rejectsWith(unreachable.count(), 'KMQ_ERR_CONNECT', new RegExp(`:${port}`));
  unreachable.close();
});

test('bad arguments are KMQ_ERR_INVALID_ARGUMENT', async () => {
  const c = Console.create({ mqPort: broker.port });
  const old = '2001-01-01 00:00:00';
  await rejectsWith(c.send('a/b', 'x'), 'KMQ_ERR_INVALID_ARGUMENT', /topic/);
  await rejectsWith(c.send('t', ''), 'KMQ_ERR_INVALID_ARGUMENT', /empty/);
  await rejectsWith(c.send('t', Buffer.from([0xff])), 'KMQ_ERR_INVALID_ARGUMENT', /UTF-8/);
  await rejectsWith(c.send('t', 42), 'KMQ_ERR_INVALID_ARGUMENT', /string or a Buffer/);
  await rejectsWith(c.send('t', 'x', { delay: -1 }), 'KMQ_ERR_INVALID_ARGUMENT', /delay/);
  await rejectsWith(c.getMessage('bad\0code'), 'KMQ_ERR_INVALID_ARGUMENT', /NUL/);
  await rejectsWith(c.deleteMessage(''), 'KMQ_ERR_INVALID_ARGUMENT', /code/);
  await rejectsWith(c.listMessages(old, old, { status: 2 }), 'KMQ_ERR_INVALID_ARGUMENT', /status 2/);
  await rejectsWith(c.listMessages(0, old), 'KMQ_ERR_INVALID_ARGUMENT', /start/);
  await rejectsWith(c.listMessages(new Date(NaN), old), 'KMQ_ERR_INVALID_ARGUMENT', /invalid Date/);
  assert.throws(() => Console.create({ noSuchKey: 1 }), { code: 'KMQ_ERR_INVALID_ARGUMENT', message: /noSuchKey|no_such_key/ });
  assert.throws(() => new Console(), TypeError);
  c.close();
});

test('a closed console rejects every call with KMQ_ERR_CLOSED', async () => {
  const c = Console.create({ mqPort: broker.port });
  await c.ping();
  c.close();
  c.close(); // twice: nothing happens
  assert.equal(c.closed, true);
  const old = '2001-01-01 00:00:00';
  for (const call of [
    () => c.ping(), () => c.clients(), () => c.serverConfig(), () => c.count(), () => c.nodes(),
    () => c.send('t', 'x'), () => c.getMessage('0'.repeat(32)), () => c.deleteMessage('0'.repeat(32)),
    () => c.listMessages(old, old),
  ]) {
    await rejectsWith(call(), 'KMQ_ERR_CLOSED', /console is closed/);
  }
});

test('many calls at once all complete', async () => {
  const topic = uniqueTopic();
  const c = Console.create({ mqPort: broker.port });
  const codes = await Promise.all(Array.from({ length: 40 }, (_, i) => c.send(topic, `m${i}`)));
  assert.equal(new Set(codes).size, 40);
  assert.equal((await listed(c, topic)).length, 40);
  c.close();
});

test('a silent node fails within connectTimeoutMs, without blocking the event loop', async () => {
  const silent = await silentServer();
  const c = Console.create({ mqPort: silent.port, connectTimeoutMs: 500 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const t0 = Date.now();
  const pending = c.count();
  c.close(); // the call in flight keeps the handle until it returns
  try {
    await rejectsWith(pending, 'KMQ_ERR_CONNECT');
  } finally {
    clearInterval(timer);
  }
  const ms = Date.now() - t0;
  assert.ok(ms >= 450 && ms < 2500, `took ${ms} ms`);
  // 50 if the timer never waited; a blocked loop would give 0 or 1.
  assert.ok(ticks >= 25, `only ${ticks} ticks in ${ms} ms`);
  await silent.close();
});
