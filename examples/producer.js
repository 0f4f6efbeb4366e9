'use strict';
// Sends messages to a KapokMQ topic and waits until the server confirmed them.
//   node examples/producer.js hello world     sends "hello" and "world"
// Server and topic come from KAPOKMQ_ADDR (127.0.0.1), KAPOKMQ_PORT (8011)
// and KAPOKMQ_TOPIC (demo). In an application: require('kapokmq').
const { Producer } = require('../bindings/node');

async function main() {
  const messages = process.argv.length > 2 ? process.argv.slice(2) : ['hello from Node'];
  const p = await Producer.connect({
    topic: process.env.KAPOKMQ_TOPIC || 'demo',
    producerId: 'example-producer',
    mqAddr: process.env.KAPOKMQ_ADDR || '127.0.0.1',
    mqPort: process.env.KAPOKMQ_PORT || 8011,
  });
  try {
    // Each promise resolves on the server's confirmation; all are in flight at once.
    await Promise.all(messages.map((text) => p.send(text)));
    console.log(`${messages.length} messages sent and confirmed`);
  } finally {
    await p.close();
  }
}

main().catch((e) => {
  console.error(`producer: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 1;
});
