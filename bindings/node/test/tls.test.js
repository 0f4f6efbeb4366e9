'use strict';
// TLS as a Node user meets it: the one-liner self-signed certificate in
// tlsCaFile works, and each refusal is KMQ_ERR_CONNECT at once with one
// sentence in plain words (no Rust Debug output), for producers over wss,
// the console over https and cluster producers asking a registry over
// https. Certificates come from tests/tls/make_certs.sh.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Producer, ClusterProducer, Console } = require('..');
const { startBroker, startBrokerOrSkip, uniqueTopic, REPO } = require('../testing/broker');
const { rejectsWith } = require('../testing/assertions');

const DEBUG_MARKS = ['Other(', 'Error(', 'InvalidCertificate', 'AlertReceived', '{ '];
let certs;
const stops = [];
before(() => {
  certs = fs.mkdtempSync(path.join(os.tmpdir(), 'kapokmq-tls-'));
  execFileSync('bash', [path.join(REPO, 'tests', 'tls', 'make_certs.sh'), certs]);
});
after(async () => {
  await Promise.all(stops.map((stop) => stop()));
  fs.rmSync(certs, { recursive: true, force: true });
});

const pem = (name) => path.join(certs, `${name}.pem`);

async function start(args) {
  const b = await startBroker(args);
  stops.push(() => b.stop());
  return b;
}

/** Skips `t` when the server serves no TLS (the real node); true then. */
async function skipWithoutTls(t) {
  const b = await startBrokerOrSkip(t, ['--tls-cert', pem('self'), '--tls-key', path.join(certs, 'self.key')]);
  if (!b) return true;
  await b.stop();
  return false;
}

/** A node (wss and the https console) and a registry serving `name`; plain ones without a name. */
async function serve(name, extra = []) {
  const tls = name ? ['--tls-cert', pem(name), '--tls-key', path.join(certs, `${name}.key`), ...extra] : [];
  return { node: await start(tls), registry: await start([...tls, '--registry']) };
}

/** The three ways to connect, each resolving once connected (NoNodes is the registry's success). */
function eachWay({ node, registry }, settings) {
  const common = { connectTimeoutMs: 4000, ...settings };
  return {
    wss: async () => (await Producer.connect({ topic: uniqueTopic(), producerId: 'p', mqPort: node.port, mqProtocol: 'wss', ...common })).close(),
    console: () => Console.create({ mqPort: node.port, mqProtocol: 'wss', ...common }).ping(),
    registry: async () => {
      const opts = { topic: uniqueTopic(), producerId: 'p', registryAddr: '127.0.0.1', registryPort: registry.port, registryProtocol: 'https', ...common };
      try {
        (await ClusterProducer.connect(opts)).close();
      } catch (e) {
        if (e.code !== 'KMQ_ERR_NO_NODES') throw e;
      }
    },
  };
}

async function assertRefused(servers, words, settings = {}) {
  for (const [way, connect] of Object.entries(eachWay(servers, settings))) {
    const started = Date.now();
    await rejectsWith(connect(), 'KMQ_ERR_CONNECT', new RegExp(words.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.ok(Date.now() - started < 2500, `${way}: took ${Date.now() - started} ms`);
    await assert.rejects(connect(), (e) => {
      for (const mark of DEBUG_MARKS) assert.ok(!e.message.includes(mark), `${way}: Rust Debug output in ${e.message}`);
      return true;
    });
  }
}

test('the one-liner certificate in tlsCaFile works; unlisted, it is named self-signed', async (t) => {
  if (await skipWithoutTls(t)) return;
  for (const name of ['self', 'self-ec']) {
    const servers = await serve(name);
    for (const connect of Object.values(eachWay(servers, { tlsCaFile: pem(name) }))) await connect();
    await assertRefused(servers, 'is self-signed (CN=127.0.0.1');
    await assertRefused(servers, 'not listed in tls_ca_file', { tlsCaFile: pem('other') });
  }
});

test('each refusal in plain words', async (t) => {
  if (await skipWithoutTls(t)) return;
  await assertRefused(await serve('leaf'), 'is not signed by a CA in tls_ca_file');
  await assertRefused(await serve('expired'), 'expired on 2020-02-01 00:00:00 UTC', { tlsCaFile: pem('expired') });
  await assertRefused(await serve('other'), 'is for example.com, not for 127.0.0.1', { tlsCaFile: pem('other') });
  await assertRefused(await serve('leaf', ['--tls-client-ca', pem('ca')]), 'requires a client certificate', { tlsCaFile: pem('ca') });
  await assertRefused(await serve(null), 'did not answer in TLS');
});

test('pins: the pinned certificate works, another is refused, a bad pin is an invalid argument', async (t) => {
  if (await skipWithoutTls(t)) return;
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', pem('self')], { encoding: 'utf8' });
  const pin = out.trim().split('=').pop();
  const servers = await serve('self');
  for (const connect of Object.values(eachWay(servers, { tlsPinSha256: pin }))) await connect();
  await assertRefused(servers, 'matches no value of tls_pin_sha256', { tlsPinSha256: 'ab'.repeat(32) });
  await rejectsWith(Producer.connect({ topic: 't', producerId: 'p', tlsPinSha256: 'not a pin' }), 'KMQ_ERR_INVALID_ARGUMENT', /tls_pin_sha256/);
});
