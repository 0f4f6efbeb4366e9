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
  await p.send('one');
  const closing = p.close();
  assert.equal(p.close(), closing, 'closing twice returns the first close');
  const consumerClosing = c.close();
  assert.equal(p.closed, true);
  assert.equal(c.closed, true);
  await rejectsWith(p.send('x'), 'KMQ_ERR_CLOSED');
  await rejectsWith(p.flush(), 'KMQ_ERR_CLOSED');
  await rejectsWith(c.receive({ timeout: 100 }), 'KMQ_ERR_CLOSED');
  await rejectsWith(c.receive({ timeout: 0 }), 'KMQ_ERR_CLOSED');
  assert.throws(() => c.ack('0123456789abcdef0123456789abcdef'), { code: 'KMQ_ERR_CLOSED' });
  await Promise.all([closing, consumerClosing]);
  // The counters stay readable, as they were at close.
  assert.equal(p.stats().confirmed, 1);
  assert.equal(c.stats().received, 0);
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
    await rejectsWith(p.send('never confirmed'), 'KMQ_ERR_TIMEOUT', /not confirmed within 300 ms \(message_timeout_ms\)/);
    assert.ok(Date.now() - t0 >= 250, 'failed before its time');
    assert.equal(p.stats().failed, 1);
    p.close();
  });

  await t.test('sends failing together each get their own report, its text included', async () => {
    const p = await Producer.connect(opts({ messageTimeoutMs: 300 }));
    const sends = ['a', 'b', 'c', 'd', 'e'].map((m) => p.send(m).catch((e) => e));
    for (const e of await Promise.all(sends)) {
      assert.equal(e.code, 'KMQ_ERR_TIMEOUT');
      assert.match(e.message, /^send: .*not confirmed within 300 ms \(message_timeout_ms\)$/);
    }
    assert.equal(p.stats().failed, 5);
    p.close();
  });

  await t.test('a send beyond queueMax is KMQ_ERR_QUEUE_FULL', async () => {
    const p = await Producer.connect(opts({ queueMax: 1 }));
    const first = p.send('fills the queue').catch((e) => e);
    await rejectsWith(p.send('one too many'), 'KMQ_ERR_QUEUE_FULL');
    await rejectsWith(p.close({ timeout: 0 }), 'KMQ_ERR_TIMEOUT',
      /^close: flush: 1 message still unconfirmed after 0 ms; they failed when the producer closed$/);
    assert.equal((await first).code, 'KMQ_ERR_CLOSED');
  });

  await t.test('flush with a timeout is KMQ_ERR_TIMEOUT, and close fails what is pending', async () => {
    const p = await Producer.connect(opts());
    // Their failures come while close() is awaited: caught from the start.
    const sends = [p.send('a'), p.send('b')].map((s) => s.catch((e) => e));
    await rejectsWith(p.flush({ timeout: 200 }), 'KMQ_ERR_TIMEOUT', /^flush: 2 messages still unconfirmed after 200 ms$/);
    const flushing = p.flush().catch((e) => e);
    const t0 = Date.now();
    await rejectsWith(p.close({ timeout: 300 }), 'KMQ_ERR_TIMEOUT',
      /^close: flush: 2 messages still unconfirmed after 300 ms; they failed when the producer closed$/);
    assert.ok(Date.now() - t0 >= 250, 'close did not flush first');
    for (const e of await Promise.all(sends)) {
      assert.equal(e.code, 'KMQ_ERR_CLOSED');
      assert.equal(e.message, 'send: the producer was closed');
    }
    // A flush under way when the producer closed ends with the close's failures.
    const flushError = await flushing;
    assert.equal(flushError.code, 'KMQ_ERR_CLOSED');
    assert.equal(flushError.message, 'flush: 2 messages failed; the last because: the producer was closed');
    assert.equal(p.stats().failed, 2);
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

test('the structs are declared as in the C header, field for field', () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const native = require('../lib/native');
  const { koffi } = native;
  const header = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'include', 'kapokmq.h'), 'utf8');
  const defines = Object.fromEntries([...header.matchAll(/^#define (\w+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  assert.equal(native.REPORT_ERROR_SIZE, defines.KMQ_REPORT_ERROR_SIZE);
  assert.equal(native.NODE_SIZE, defines.KMQ_NODE_SIZE);
  const code = header.replace(/\/\*[\s\S]*?\*\//g, '');
  /** The header's fields of `struct name`: [{ name, type, length }], in order. */
  const fieldsOf = (name) => {
    const m = new RegExp(`typedef struct ${name} \\{([^}]*)\\} ${name};`).exec(code);
    assert.ok(m, `kapokmq.h declares no struct ${name}`);
    return m[1].split(';').map((f) => f.trim()).filter(Boolean).map((f) => {
      const d = /^(.*?)\s*\b(\w+)(?:\[(\w+)\])?$/.exec(f);
      return { type: d[1], name: d[2], length: d[3] === undefined ? null : defines[d[3]] ?? Number(d[3]) };
    });
  };
  // koffi's primitive for each C type the header uses in these structs.
  const PRIMITIVES = {
    'uint64_t': 'UInt64', 'int32_t': 'Int32', 'uint32_t': 'UInt32', 'size_t': 'UInt64',
    'void *': 'Pointer', 'const char *': 'String', 'enum kmq_status': 'Int32', 'enum kmq_event_kind': 'Int32',
  };
  const structs = {
    kmq_delivery_report: native.DELIVERY_REPORT,
    kmq_buf: native.BUF,
    kmq_producer_stats: native.PRODUCER_STATS,
    kmq_close_report: native.CLOSE_REPORT,
    kmq_consumer_stats: native.CONSUMER_STATS,
    kmq_drain_report: native.DRAIN_REPORT,
    kmq_connection_stats: native.CONNECTION_STATS,
    kmq_event: native.EVENT,
  };
  // Every struct of the header with fields is checked here, or is one the binding does not use.
  const UNUSED = ['kmq_message_info'];
  const inHeader = [...code.matchAll(/typedef struct (\w+) \{/g)].map((m) => m[1]).filter((n) => !UNUSED.includes(n));
  assert.deepEqual(inHeader.sort(), Object.keys(structs).sort(), 'the structs of kapokmq.h');
  for (const [name, type] of Object.entries(structs)) {
    const fields = fieldsOf(name);
    const members = koffi.type(type).members;
    assert.deepEqual(Object.keys(members), fields.map((f) => f.name), `${name}: the fields`);
    // C's layout, each field at the next multiple of its alignment (LP64).
    let offset = 0;
    let align = 1;
    for (const f of fields) {
      const t = koffi.type(members[f.name].type);
      if (f.length !== null) {
        assert.equal(f.type, 'char', `${name}.${f.name}`);
        assert.equal(t.primitive, 'Array', `${name}.${f.name}`);
        assert.equal(t.length, f.length, `${name}.${f.name}: the length`);
        assert.equal(t.ref.primitive, 'Int8', `${name}.${f.name}: char`);
      } else {
        assert.ok(f.type in PRIMITIVES, `${name}.${f.name}: a C type the test does not know: ${f.type}`);
        assert.equal(t.primitive, PRIMITIVES[f.type], `${name}.${f.name}: ${f.type}`);
      }
      const fieldAlign = f.length !== null ? 1 : t.size;
      offset = Math.ceil(offset / fieldAlign) * fieldAlign;
      assert.equal(koffi.offsetof(type, f.name), offset, `${name}.${f.name}: the offset`);
      offset += t.size;
      align = Math.max(align, fieldAlign);
    }
    assert.equal(koffi.sizeof(type), Math.ceil(offset / align) * align, `${name}: the size`);
  }
});
