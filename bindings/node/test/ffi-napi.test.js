'use strict';
// An application written for ffi-napi (through @2060.io/ffi-napi, the
// maintained fork that builds on current Node) loads the same library and
// calls the same C functions as this package, next to it in one process.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { promisify } = require('node:util');
const ffi = require('@2060.io/ffi-napi');
const ref = require('@2060.io/ref-napi');
const kapokmq = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');

const voidPtr = ref.refType(ref.types.void);
const voidPtrPtr = ref.refType(voidPtr);
const sizePtr = ref.refType(ref.types.size_t);

const lib = ffi.Library(kapokmq.libraryPath(), {
  kmq_version: ['string', []],
  kmq_status_str: ['string', ['int']],
  kmq_last_error: ['string', []],
  kmq_config_new: [voidPtr, []],
  kmq_config_set: ['int', [voidPtr, 'string', 'string']],
  kmq_config_free: ['void', [voidPtr]],
  kmq_producer_new: ['int', [voidPtr, voidPtrPtr]],
  kmq_send_wait: ['int', [voidPtr, 'pointer', 'size_t', 'int64', 'int64']],
  kmq_producer_free: ['void', [voidPtr]],
  kmq_consumer_new: ['int', [voidPtr, voidPtrPtr]],
  kmq_receive: ['int', [voidPtr, 'int64', voidPtrPtr]],
  kmq_ack: ['int', [voidPtr, 'string']],
  kmq_consumer_free: ['void', [voidPtr]],
  kmq_message_code: ['string', [voidPtr]],
  kmq_message_data: ['pointer', [voidPtr, sizePtr]],
  kmq_message_free: ['void', [voidPtr]],
});

// Calls that wait on the network go through ffi-napi's own .async, so they
// do not block this process's event loop either.
const producerNew = promisify(lib.kmq_producer_new.async);
const consumerNew = promisify(lib.kmq_consumer_new.async);
const sendWait = promisify(lib.kmq_send_wait.async);
const receive = promisify(lib.kmq_receive.async);

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

function config(pairs) {
  const cfg = lib.kmq_config_new();
  assert.ok(!cfg.isNull());
  for (const [k, v] of Object.entries(pairs)) {
    assert.equal(lib.kmq_config_set(cfg, k, String(v)), 0, lib.kmq_last_error());
  }
  return cfg;
}

test('ffi-napi sees the same version, status names and config checks as kapokmq', () => {
  assert.equal(lib.kmq_version(), kapokmq.version());
  for (const [name, status] of Object.entries(kapokmq.Status)) {
    assert.equal(lib.kmq_status_str(status), name);
  }
  const cfg = lib.kmq_config_new();
  assert.equal(lib.kmq_config_set(cfg, 'mq_port', 'abc'), kapokmq.Status.KMQ_ERR_INVALID_ARGUMENT);
  assert.match(lib.kmq_last_error(), /mq_port/);
  assert.equal(lib.kmq_config_set(cfg, 'mq_port', '8011'), 0);
  assert.equal(lib.kmq_last_error(), '');
  lib.kmq_config_free(cfg);
  lib.kmq_config_free(ref.NULL); // NULL does nothing
});

test('a message sent through ffi-napi is received through kapokmq, and back', async () => {
  const toKoffi = uniqueTopic('toKoffi');
  const toFfi = uniqueTopic('toFfi');
  const pOut = ref.alloc(voidPtr);
  const cOut = ref.alloc(voidPtr);
  const pCfg = config({ topic: toKoffi, producer_id: 'ffi-p', mq_port: broker.port });
  const cCfg = config({ topic: toFfi, consumer_id: 'ffi-c', mq_port: broker.port });
  try {
    assert.equal(await producerNew(pCfg, pOut), 0);
    assert.equal(await consumerNew(cCfg, cOut), 0);
  } finally {
    lib.kmq_config_free(pCfg);
    lib.kmq_config_free(cCfg);
  }
  const producer = pOut.deref();
  const consumer = cOut.deref();
  const kc = await kapokmq.Consumer.connect({ topic: toKoffi, consumerId: 'koffi-c', mqPort: broker.port });
  const kp = await kapokmq.Producer.connect({ topic: toFfi, producerId: 'koffi-p', mqPort: broker.port });
  try {
    const payload = Buffer.from('from ffi-napi: é\0!');
    assert.equal(await sendWait(producer, payload, payload.length, 0, 5000), 0);
    const km = await kc.receive({ timeout: 5000 });
    assert.deepEqual(km.data, payload);
    kc.ack(km);

    await kp.send('from kapokmq: 東京');
    const msgOut = ref.alloc(voidPtr);
    assert.equal(await receive(consumer, 5000, msgOut), 0);
    const m = msgOut.deref();
    const len = ref.alloc(ref.types.size_t);
    const data = lib.kmq_message_data(m, len);
    assert.equal(ref.reinterpret(data, len.deref()).toString('utf8'), 'from kapokmq: 東京');
    assert.match(lib.kmq_message_code(m), /^[0-9a-f]{32}$/);
    assert.equal(lib.kmq_ack(consumer, lib.kmq_message_code(m)), 0);
    lib.kmq_message_free(m);
  } finally {
    kp.close();
    kc.close();
    lib.kmq_producer_free(producer);
    lib.kmq_consumer_free(consumer);
  }
});
