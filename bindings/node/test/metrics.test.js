'use strict';
// What a dashboard reads and what it alerts on: each client's statistics
// (statsJson), the Prometheus page (prometheusText) and connection events
// ('event' listeners).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Producer, Consumer, prometheusText } = require('..');
const { startBroker, uniqueTopic } = require('../testing/broker');
const { runFixture } = require('../testing/run-fixture');
const { rejectsWith } = require('../testing/assertions');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits up to `ms` for `check()` to be true; returns its last answer. */
async function eventually(check, ms = 5000) {
  const giveUp = Date.now() + ms;
  while (!check() && Date.now() < giveUp) await sleep(20);
  return check();
}

/** A sample line of the text exposition format: a name, labels maybe, one value. */
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
const SAMPLE = new RegExp(
  `^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{${LABEL}(,${LABEL})*\\})? ([-+]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][-+]?\\d+)?|[-+]?Inf|NaN)$`,
);

/** The page's sample lines (neither comments nor empty). */
function samples(page) {
  return page.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

let broker;
before(async () => {
  broker = await startBroker();
});
after(() => broker.stop());

const N = 20;
const ACKED = 5;

/** A consumer and a producer on a topic of their own; N messages sent and received, ACKED acked. */
async function traffic(t) {
  const topic = uniqueTopic('metrics');
  const node = { topic, mqPort: broker.port };
  const c = await Consumer.connect({ ...node, consumerId: 'c1' });
  const p = await Producer.connect({ ...node, producerId: 'p1' });
  t.after(() => Promise.all([p.close(), c.close()]));
  await broker.consumerListed(topic);
  await Promise.all(Array.from({ length: N }, (_, i) => p.send(`m${i}`)));
  for (let i = 0; i < N; i++) {
    const m = await c.receive({ timeout: 5000 });
    assert.ok(m, `message ${i} did not come`);
    if (i < ACKED) c.ack(m);
  }
  return { topic, p, c };
}

test('statsJson counts what was sent, received and acked, and each connection', async (t) => {
  const { topic, p, c } = await traffic(t);
  const node = `127.0.0.1:${broker.port}`;

  const ps = p.statsJson();
  assert.equal(ps.role, 'producer');
  assert.equal(ps.client, p.serial);
  assert.equal(ps.topic, topic);
  assert.equal(ps.client_id, 'p1');
  assert.equal(ps.closed, false);
  assert.equal(ps.enqueued, N);
  assert.equal(ps.confirmed, N);
  assert.equal(ps.failed, 0);
  assert.equal(ps.in_flight, 0);
  assert.ok(ps.confirm_latency_us.p99 > 0, JSON.stringify(ps.confirm_latency_us));
  assert.ok(ps.confirm_latency_us.max >= ps.confirm_latency_us.p50);
  assert.equal(ps.connections.length, 1);
  assert.equal(ps.connections[0].node, node);
  assert.equal(ps.connections[0].state, 'connected');
  assert.equal(ps.connections[0].confirmed, N);
  assert.ok(ps.connections[0].connected_since_ms > 0);
  assert.ok(ps.connections[0].bytes_out > 0);
  assert.equal(ps.connections[0].last_error, null);

  // Every message received was handed out; the acks are written shortly after ack().
  assert.ok(await eventually(() => c.statsJson().acks_written === ACKED), JSON.stringify(c.statsJson()));
  const cs = c.statsJson();
  assert.equal(cs.role, 'consumer');
  assert.equal(cs.client, c.serial);
  assert.notEqual(c.serial, p.serial);
  assert.equal(cs.client_id, 'c1');
  assert.equal(cs.received, N);
  assert.equal(cs.acked, ACKED);
  assert.equal(cs.unacked, N - ACKED);
  assert.equal(cs.buffered, 0);
  assert.equal(cs.buffer_capacity, 10000);
  assert.equal(cs.connections.length, 1);
  assert.equal(cs.connections[0].node, node);
  assert.equal(cs.connections[0].state, 'connected');
  assert.equal(cs.connections[0].received, N);

  // After close, as it was then.
  await Promise.all([p.close(), c.close()]);
  assert.equal(p.statsJson().closed, true);
  assert.equal(p.statsJson().confirmed, N);
  assert.equal(c.statsJson().closed, true);
  assert.equal(c.statsJson().acked, ACKED);
});

test('prometheusText renders the clients given, in the text exposition format', async (t) => {
  const { topic, p, c } = await traffic(t);
  await eventually(() => c.statsJson().acks_written === ACKED);
  const page = prometheusText([p, c]);
  const labels = (id) => `{topic="${topic}",client_id="${id}"}`;
  assert.ok(page.includes(`\nkapokmq_producer_confirmed_total${labels('p1')} ${N}\n`), page);
  assert.ok(page.includes(`\nkapokmq_consumer_received_total${labels('c1')} ${N}\n`), page);
  assert.ok(page.includes(`\nkapokmq_consumer_unacked${labels('c1')} ${N - ACKED}\n`), page);
  assert.ok(page.includes('\n# TYPE kapokmq_producer_confirm_latency_seconds summary\n'), page);
  assert.ok(page.includes(`node="127.0.0.1:${broker.port}",connection="0"} `), page);
  const lines = samples(page);
  assert.ok(lines.length > 10, page);
  for (const line of lines) assert.match(line, SAMPLE);

  // Only the clients given; none is an empty page.
  const producerOnly = prometheusText([p]);
  assert.ok(producerOnly.includes('kapokmq_producer_confirmed_total'));
  assert.ok(!producerOnly.includes('kapokmq_consumer_'), producerOnly);
  assert.deepEqual(samples(prometheusText([])), []);
});

test('documents longer than a first guess come whole', async () => {
  const topic = uniqueTopic('metrics');
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: broker.port, connections: 64 });
  try {
    const doc = p.statsJson();
    assert.ok(JSON.stringify(doc).length > 8192);
    assert.deepEqual(doc.connections.map((c) => c.id), Array.from({ length: 64 }, (_, i) => i));
    const page = prometheusText([p]);
    assert.ok(page.length > 32768);
    assert.ok(page.includes(`kapokmq_producer_connection_up{topic="${topic}",client_id="p1",node="127.0.0.1:${broker.port}",connection="63"} `), page);
    assert.ok(page.endsWith('\n'));
    for (const line of samples(page)) assert.match(line, SAMPLE);
  } finally {
    await p.close();
  }
});

test('prometheusText() renders every client not yet closed', async () => {
  const topic = uniqueTopic('metrics');
  const live = await Producer.connect({ topic, producerId: 'live', mqPort: broker.port });
  const gone = await Consumer.connect({ topic, consumerId: 'gone', mqPort: broker.port });
  let page = prometheusText();
  assert.ok(page.includes(`kapokmq_producer_confirmed_total{topic="${topic}",client_id="live"} 0\n`), page);
  assert.ok(page.includes(`kapokmq_consumer_received_total{topic="${topic}",client_id="gone"} 0\n`), page);
  await gone.close();
  page = prometheusText();
  assert.ok(page.includes(`client_id="live"`), page);
  assert.ok(!page.includes(`client_id="gone"`), page);
  for (const line of samples(page)) assert.match(line, SAMPLE);
  await live.close();
  assert.ok(!prometheusText().includes(`topic="${topic}"`));
});

test('prometheusText refuses what is not an open client', async () => {
  const closed = await Producer.connect({ topic: uniqueTopic('metrics'), producerId: 'p1', mqPort: broker.port });
  await closed.close();
  await rejectsWith(async () => prometheusText([closed]), 'KMQ_ERR_CLOSED', /clients\[0\]/);
  await rejectsWith(async () => prometheusText([{}]), 'KMQ_ERR_INVALID_ARGUMENT', /clients\[0\] is not a Producer or Consumer/);
  await rejectsWith(async () => prometheusText('all'), 'KMQ_ERR_INVALID_ARGUMENT');
});

test('events tell a restart of the broker as it happened, to the client listening only', async (t) => {
  let own = await startBroker();
  const clients = [];
  const events = [];
  const listener = (e) => events.push(e);
  t.after(async () => {
    await Promise.all(clients.map((c) => c.removeAllListeners().close()));
    await own.stop();
  });
  const node = `127.0.0.1:${own.port}`;
  const topic = uniqueTopic('events');
  const p = await Producer.connect({ topic, producerId: 'p1', mqPort: own.port, reconnectMaxMs: 200 });
  const quiet = await Producer.connect({ topic, producerId: 'p2', mqPort: own.port, reconnectMaxMs: 200 });
  clients.push(p, quiet);
  p.on('event', listener);

  own = await own.restart();
  await Promise.all([p.send('after'), quiet.send('after')]);
  const index = (type, from = 0) => events.findIndex((e, i) => i >= from && e.type === type);
  await eventually(() => index('disconnected') >= 0 && index('connected', index('disconnected')) >= 0);

  const types = events.map((e) => e.type);
  const lost = index('disconnected');
  const retry = index('reconnecting', lost);
  const back = index('connected', retry);
  assert.ok(lost >= 0 && retry > lost && back > retry, `order: ${types.join(', ')}`);
  assert.notEqual(events[lost].reason, '');
  assert.ok(events[retry].attempt >= 1, JSON.stringify(events[retry]));
  assert.ok(events[retry].delayMs >= 0 && events[retry].delayMs <= 200, JSON.stringify(events[retry]));
  for (const e of events) {
    assert.deepEqual(
      { client: e.client, role: e.role, topic: e.topic, clientId: e.clientId, node: e.node },
      { client: p.serial, role: 'producer', topic, clientId: 'p1', node },
    );
  }

  // The other client's events went to nobody, and are not kept for later.
  await sleep(200);
  const late = [];
  quiet.on('event', (e) => late.push(e));
  await sleep(300);
  quiet.removeAllListeners('event');
  assert.deepEqual(late, []);
});

test('an event listener, left on or removed, does not keep the process alive', async () => {
  for (const mode of ['off', 'on']) {
    const { stdout, ms } = await runFixture('events.js', [mode]);
    assert.equal(stdout, `disconnected, ${mode === 'off' ? 0 : 1} listener(s)`);
    assert.ok(ms < 5000, `${mode}: took ${ms} ms to exit`);
  }
});

test('clients are EventEmitters of their connection events', async () => {
  const p = await Producer.connect({ topic: uniqueTopic('metrics'), producerId: 'p1', mqPort: broker.port });
  const listener = () => {};
  assert.equal(p.on('event', listener), p);
  assert.equal(p.listenerCount('event'), 1);
  p.removeAllListeners();
  assert.equal(p.listenerCount('event'), 0);
  // Listening again still works after removeAllListeners().
  p.once('event', listener);
  assert.equal(p.listenerCount('event'), 1);
  p.off('event', listener);
  await p.close();
  assert.ok(p.serial > 0);
});
