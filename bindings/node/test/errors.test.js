'use strict';
// Each error code, from the situation it names.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Producer, Consumer } = require('..');
const { startBroker, startBrokerOrSkip, uniqueTopic } = require('../testing/broker');
const { rejectsWith } = require('../testing/assertions');

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

const producerOpts = (extra = {}) => ({ topic: uniqueTopic(), producerId: 'p1', mqPort: broker.port, ...extra });
const consumerOpts = (extra = {}) => ({ topic: uniqueTopic(), consumerId: 'c1', mqPort: broker.port, ...extra });

/** A port on which nothing listens. */
async function closedPort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

test('a wrong secret key is KMQ_ERR_AUTH', async () => {
  await rejectsWith(Producer.connect(producerOpts({ secretKey: 'wrong' })), 'KMQ_ERR_AUTH');
  await rejectsWith(Consumer.connect(consumerOpts({ secretKey: 'wrong' })), 'KMQ_ERR_AUTH');
});

test('a closed port is KMQ_ERR_CONNECT, naming the address', async () => {
  const port = await closedPort();
  await rejectsWith(Producer.connect(producerOpts({ mqPort: port })), 'KMQ_ERR_CONNECT', new RegExp(`127\\.0\\.0\\.1:${port}`));
  await rejectsWith(Consumer.connect(consumerOpts({ mqPort: port })), 'KMQ_ERR_CONNECT', new RegExp(`:${port}`));
});

test('a bad name, a bad key or a bad value is KMQ_ERR_INVALID_ARGUMENT, naming it', async () => {
  await rejectsWith(Producer.connect(producerOpts({ topic: 'a/b' })), 'KMQ_ERR_INVALID_ARGUMENT', /topic/);
  await rejectsWith(Consumer.connect(consumerOpts({ consumerId: 'has space' })), 'KMQ_ERR_INVALID_ARGUMENT', /consumer_?[iI]d/);
  await rejectsWith(Producer.connect(producerOpts({ noSuchKey: 'x' })), 'KMQ_ERR_INVALID_ARGUMENT', /noSuchKey|no_such_key/);
  await rejectsWith(Producer.connect(producerOpts({ mqPort: 'abc' })), 'KMQ_ERR_INVALID_ARGUMENT', /mq_?[pP]ort/);
  await rejectsWith(Producer.connect(producerOpts({ topic: { not: 'a string' } })), 'KMQ_ERR_INVALID_ARGUMENT', /topic/);
  await rejectsWith(Producer.connect({ topic: 't', mqPort: broker.port }), 'KMQ_ERR_INVALID_ARGUMENT', /producer_id/);
  await rejectsWith(Producer.connect(null), 'KMQ_ERR_INVALID_ARGUMENT');
});

test('bad send arguments are KMQ_ERR_INVALID_ARGUMENT, and the producer stays usable', async () => {
  const p = await Producer.connect(producerOpts());
  await rejectsWith(p.send(Buffer.from([0x61, 0xff, 0xfe])), 'KMQ_ERR_INVALID_ARGUMENT', /UTF-8/i);
  await rejectsWith(p.send(''), 'KMQ_ERR_INVALID_ARGUMENT');
  await rejectsWith(p.send(42), 'KMQ_ERR_INVALID_ARGUMENT', /string or a Buffer/);
  await rejectsWith(p.send('x', { delay: -1 }), 'KMQ_ERR_INVALID_ARGUMENT', /delay/);
  await rejectsWith(p.send('x', { delay: 1.5 }), 'KMQ_ERR_INVALID_ARGUMENT', /delay/);
  await rejectsWith(p.flush({ timeout: 'soon' }), 'KMQ_ERR_INVALID_ARGUMENT', /timeout/);
  await p.send('still fine');
  p.close();
});

test('operations after close are KMQ_ERR_CLOSED', async () => {
  const p = await Producer.connect(producerOpts());
  const c = await Consumer.connect(consumerOpts());
  p.close();
  p.close(); // closing twice does nothing
  c.close();
  assert.equal(p.closed, true);
  assert.equal(c.closed, true);
  await rejectsWith(p.send('x'), 'KMQ_ERR_CLOSED');
  await rejectsWith(p.flush(), 'KMQ_ERR_CLOSED');
  assert.throws(() => p.stats(), { code: 'KMQ_ERR_CLOSED' });
  await rejectsWith(c.receive({ timeout: 100 }), 'KMQ_ERR_CLOSED');
  await rejectsWith(c.receive({ timeout: 0 }), 'KMQ_ERR_CLOSED');
  assert.throws(() => c.ack('0123456789abcdef0123456789abcdef'), { code: 'KMQ_ERR_CLOSED' });
  assert.throws(() => c.stats(), { code: 'KMQ_ERR_CLOSED' });
});

test('a receive waiting when the consumer is closed rejects with KMQ_ERR_CLOSED', async () => {
  const c = await Consumer.connect(consumerOpts());
  const waiting = c.receive();
  setTimeout(() => c.close(), 100);
  await rejectsWith(waiting, 'KMQ_ERR_CLOSED');
});

test('ack needs a Message or a code', async () => {
  const c = await Consumer.connect(consumerOpts());
  assert.throws(() => c.ack({}), { code: 'KMQ_ERR_INVALID_ARGUMENT' });
  assert.throws(() => c.ack(null), { code: 'KMQ_ERR_INVALID_ARGUMENT' });
  c.close();
});

test('a handle of one kind cannot be used as the other', async () => {
  const p = await Producer.connect(producerOpts());
  const c = await Consumer.connect(consumerOpts());
  assert.throws(() => Producer.prototype.send.call(c, 'x'), TypeError);
  assert.throws(() => Consumer.prototype.ack.call(p, 'x'), TypeError);
  assert.throws(() => new Producer(), TypeError);
  p.close();
  c.close();
});

test('with a broker that never confirms', async (t) => {
  const stalled = await startBrokerOrSkip(t, ['--stall-acks']);
  if (!stalled) return;
  t.after(() => stalled.stop());
  const opts = (extra) => ({ topic: uniqueTopic(), producerId: 'p1', mqPort: stalled.port, ...extra });

  await t.test('a send past messageTimeoutMs is KMQ_ERR_TIMEOUT', async () => {
    const p = await Producer.connect(opts({ messageTimeoutMs: 300 }));
    const t0 = Date.now();
    await rejectsWith(p.send('never confirmed'), 'KMQ_ERR_TIMEOUT', /messageTimeoutMs/);
    assert.ok(Date.now() - t0 >= 250, 'failed before its time');
    assert.equal(p.stats().failed, 1);
    p.close();
  });

  await t.test('a send beyond queueMax is KMQ_ERR_QUEUE_FULL', async () => {
    const p = await Producer.connect(opts({ queueMax: 1 }));
    const first = p.send('fills the queue');
    await rejectsWith(p.send('one too many'), 'KMQ_ERR_QUEUE_FULL');
    p.close();
    await rejectsWith(first, 'KMQ_ERR_CLOSED');
  });

  await t.test('flush with a timeout is KMQ_ERR_TIMEOUT, and close fails what is pending', async () => {
    const p = await Producer.connect(opts());
    const sends = [p.send('a'), p.send('b')];
    await rejectsWith(p.flush({ timeout: 200 }), 'KMQ_ERR_TIMEOUT', /2 message/);
    const flushing = p.flush();
    p.close();
    for (const s of sends) await rejectsWith(s, 'KMQ_ERR_CLOSED', /closed/);
    await rejectsWith(flushing, 'KMQ_ERR_CLOSED', /2 message/);
  });
});

test('a server that never answers the handshake is KMQ_ERR_CONNECT after connectTimeoutMs', async (t) => {
  const silent = await startBrokerOrSkip(t, ['--silent']);
  if (!silent) return;
  t.after(() => silent.stop());
  const t0 = Date.now();
  await rejectsWith(Producer.connect({ topic: 't', producerId: 'p', mqPort: silent.port, connectTimeoutMs: 400 }), 'KMQ_ERR_CONNECT');
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 5000, `took ${took} ms`);
});
