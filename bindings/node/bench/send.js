'use strict';
// send() cost per message: the wall time of N sends with every promise
// awaited (so it includes the server's confirmations), divided by N; then
// the same for sendMany() in batches of 1000 (the arrays built once).
// Starts its own kmq-broker (KMQ_BROKER, or the repo's build).
//   node bench/send.js [N=100000] [payload bytes=64] [rounds=3]

const { Producer } = require('..');
const { startBroker } = require('../testing/broker');

const [n = 100000, size = 64, rounds = 3] = process.argv.slice(2).map(Number);

async function round(p, payload) {
  const t0 = process.hrtime.bigint();
  const sends = new Array(n);
  for (let i = 0; i < n; i++) sends[i] = p.send(payload);
  await Promise.all(sends);
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

const BATCH = 1000;

async function roundMany(p, batches) {
  const t0 = process.hrtime.bigint();
  await Promise.all(batches.map((b) => p.sendMany(b)));
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

(async () => {
  const broker = await startBroker();
  try {
    const p = await Producer.connect({ topic: 'bench', producerId: 'bench', mqPort: broker.port });
    const payload = 'x'.repeat(size);
    await round(p, payload); // warm-up: JIT, connection, buffers
    const results = [];
    for (let r = 0; r < rounds; r++) results.push(await round(p, payload));
    results.sort((a, b) => a - b);
    const median = results[Math.floor(results.length / 2)];
    console.log(`send: ${median.toFixed(2)} µs per message (median of ${rounds} rounds of ${n}, ` +
      `${size}-byte payload, all confirmed; best ${results[0].toFixed(2)} µs)`);
    const batches = [];
    for (let left = n; left > 0; left -= BATCH) batches.push(new Array(Math.min(BATCH, left)).fill(payload));
    await roundMany(p, batches); // warm-up
    const many = [];
    for (let r = 0; r < rounds; r++) many.push(await roundMany(p, batches));
    many.sort((a, b) => a - b);
    console.log(`send_many: ${many[Math.floor(many.length / 2)].toFixed(2)} µs per message (sendMany, ` +
      `median of ${rounds} rounds of ${n} in batches of ${BATCH}, ${size}-byte payload, all confirmed; ` +
      `best ${many[0].toFixed(2)} µs)`);
    const s = p.stats();
    if (s.confirmed !== 2 * (rounds + 1) * n) throw new Error(`only ${s.confirmed} confirmed`);
    await p.close();
  } finally {
    await broker.stop();
  }
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
