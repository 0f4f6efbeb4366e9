'use strict';
// ClusterProducer and ClusterConsumer against a real registry and two nodes.

const test = require('node:test');
const assert = require('node:assert');
const { ClusterProducer, ClusterConsumer, KapokMQError } = require('..');
const { startBroker } = require('../testing/broker');

async function startCluster(nodes) {
  const registry = await startBroker(['--registry', '--node-ttl-ms', '3000']);
  const members = [];
  for (let i = 0; i < nodes; i++) {
    members.push(await startBroker(['--join', `127.0.0.1:${registry.port}`]));
  }
  return {
    registry,
    members,
    options: { registryAddr: '127.0.0.1', registryPort: registry.port, checkTime: 1 },
    async stop() {
      for (const m of members) await m.stop();
      await registry.stop();
    },
  };
}

test('a cluster consumer receives everything a cluster producer sends', async () => {
  const cluster = await startCluster(2);
  const topic = `cluster-${process.pid}`;
  const consumer = await ClusterConsumer.connect({ ...cluster.options, topic, consumerId: 'c1' });
  const producer = await ClusterProducer.connect({ ...cluster.options, topic, producerId: 'p1' });
  try {
    const sends = [];
    for (let i = 0; i < 2000; i++) sends.push(producer.send(`m${i}`));
    await Promise.all(sends);
    await producer.flush();
    const seen = new Set();
    while (seen.size < 2000) {
      const m = await consumer.receive({ timeout: 5000 });
      assert.ok(m, `only ${seen.size} of 2000 messages arrived`);
      seen.add(m.text);
      consumer.ack(m);
    }
  } finally {
    producer.close();
    consumer.close();
    await cluster.stop();
  }
});

test('a registry with no node is KMQ_ERR_NO_NODES, a wrong key KMQ_ERR_AUTH', async () => {
  const cluster = await startCluster(0);
  try {
    await assert.rejects(
      ClusterProducer.connect({ ...cluster.options, topic: 't', producerId: 'p1' }),
      (e) => e instanceof KapokMQError && e.code === 'KMQ_ERR_NO_NODES',
    );
    await assert.rejects(
      ClusterConsumer.connect({ ...cluster.options, topic: 't', consumerId: 'c1', secretKey: 'nope' }),
      (e) => e instanceof KapokMQError && e.code === 'KMQ_ERR_AUTH',
    );
  } finally {
    await cluster.stop();
  }
});
