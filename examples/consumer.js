'use strict';
// Receives messages from a KapokMQ topic, prints and acknowledges them.
//   node examples/consumer.js [COUNT]
// Stops after COUNT messages (default 10), when none came for 10 s, or on
// Ctrl-C. Server and topic come from KAPOKMQ_ADDR (127.0.0.1), KAPOKMQ_PORT
// (8011) and KAPOKMQ_TOPIC (demo). In an application: require('kapokmq').
const { Consumer } = require('../bindings/node');

async function main() {
  const count = Number(process.argv[2] || 10);
  const c = await Consumer.connect({
    topic: process.env.KAPOKMQ_TOPIC || 'demo',
    consumerId: 'example-consumer',
    mqAddr: process.env.KAPOKMQ_ADDR || '127.0.0.1',
    mqPort: process.env.KAPOKMQ_PORT || 8011,
  });
  process.once('SIGINT', () => c.close()); // a waiting receive() then rejects with KMQ_ERR_CLOSED
  let received = 0;
  try {
    while (received < count) {
      const m = await c.receive({ timeout: 10000 });
      if (m === null) {
        console.log('no message for 10 s, stopping');
        break;
      }
      console.log(m.code, m.text);
      c.ack(m); // handled; otherwise the server delivers it again
      received++;
    }
  } catch (e) {
    if (e.code !== 'KMQ_ERR_CLOSED') throw e;
  } finally {
    await c.close();
  }
  console.log(`${received} messages received`);
}

main().catch((e) => {
  console.error(`consumer: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 1;
});
