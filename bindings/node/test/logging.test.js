'use strict';
// The library's log messages: setLogger and the logger's 'log' events.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, logger, setLogger, KapokMQError } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');
const { runFixture } = require('../testing/run-fixture');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the first of `lines` that `match` accepts, waiting up to `ms`. */
async function firstLine(lines, match, ms = 5000) {
  const giveUp = Date.now() + ms;
  while (Date.now() < giveUp) {
    const found = lines.find(match);
    if (found) return found;
    await sleep(20);
  }
  return undefined;
}

/** A producer on a broker of its own, and a function that kills the broker. */
async function producerWithBroker() {
  const broker = await startBroker();
  const p = await Producer.connect({ topic: uniqueTopic(), producerId: 'p1', mqPort: broker.port });
  await p.send('before');
  return { broker, p };
}

test('a producer whose broker is killed logs a warning naming the port', async () => {
  const lines = [];
  const events = [];
  const onLog = (level, message) => events.push([level, message]);
  setLogger((level, message) => lines.push([level, message]), { level: 'info' });
  logger.on('log', onLog);
  try {
    const { broker, p } = await producerWithBroker();
    await broker.stop();
    const warn = await firstLine(lines, ([level]) => level === 'warn');
    p.close();
    assert.ok(warn, `no warning among ${JSON.stringify(lines)}`);
    assert.match(warn[1], new RegExp(`127\\.0\\.0\\.1:${broker.port}\\b.*lost`));
    // Both ways of listening get the same messages; nothing above 'info'.
    assert.ok(events.some(([level, message]) => level === 'warn' && message === warn[1]));
    assert.ok(lines.every(([level]) => ['error', 'warn', 'info'].includes(level)), JSON.stringify(lines));
  } finally {
    setLogger(null);
    logger.off('log', onLog);
  }
  assert.equal(logger.listenerCount('log'), 0);
});

test('the level filters messages and can change while logging', async () => {
  const lines = [];
  setLogger((level, message) => lines.push([level, message]), { level: 'error' });
  try {
    const { broker, p } = await producerWithBroker();
    await broker.stop();
    await sleep(600);
    assert.deepEqual(lines.filter(([level]) => level !== 'error'), []);
    // The reconnect attempts go on; at 'debug' they are told.
    logger.level = 'debug';
    const debug = await firstLine(lines, ([level]) => level === 'debug');
    p.close();
    assert.ok(debug, `no debug message among ${JSON.stringify(lines)}`);
    assert.match(debug[1], new RegExp(`:${broker.port}\\b`));
  } finally {
    setLogger(null);
  }
});

test('bad arguments are KMQ_ERR_INVALID_ARGUMENT', () => {
  const invalid = (e) => e instanceof KapokMQError && e.code === 'KMQ_ERR_INVALID_ARGUMENT';
  assert.throws(() => setLogger('console.log'), invalid);
  assert.throws(() => setLogger(() => {}, { level: 'loud' }), invalid);
  assert.throws(() => { logger.level = 'warning'; }, invalid);
  assert.equal(logger.listenerCount('log'), 0);
});

test('without a logger, a lost connection prints nothing', async () => {
  const { stdout, stderr } = await runFixture('logging.js', ['default']);
  assert.equal(stdout, 'done');
  assert.doesNotMatch(stderr, /lost|producer|kapokmq/i);
});

test('a logger left on does not keep the process alive', async () => {
  const { stdout, ms } = await runFixture('logging.js', ['open']);
  assert.match(stdout, /^warn: producer connection to .* lost/);
  assert.ok(ms < 5000, `took ${ms} ms to exit`);
});

test('switching the logger on and off while messages flow never hangs', async () => {
  const { stdout } = await runFixture('logging.js', ['toggle']);
  assert.equal(stdout, 'done');
});
