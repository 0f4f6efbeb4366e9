'use strict';
// N messages sent and confirmed, all received intact and acked, both
// clients closed; prints "N messages round-tripped (HOW), library PATH".
const N = 100;

module.exports = async function roundTrip({ Producer, Consumer, libraryPath }, how) {
  const [port, topic] = [Number(process.argv[2]), process.argv[3]];
  const common = { topic, mqAddr: '127.0.0.1', mqPort: port, secretKey: 'test' };
  const c = await Consumer.connect({ ...common, consumerId: 'c1' });
  const p = await Producer.connect({ ...common, producerId: 'p1' });
  const sent = Array.from({ length: N }, (_, i) => `node ${i} é東`);
  await Promise.all(sent.map((text) => p.send(text)));
  await p.close();
  const got = [];
  while (got.length < N) {
    const m = await c.receive({ timeout: 10000 });
    if (m === null) throw new Error(`only ${got.length} of ${N} messages came back`);
    got.push(m.text);
    c.ack(m);
  }
  await c.close();
  if (JSON.stringify(got.sort()) !== JSON.stringify(sent.sort())) {
    throw new Error('the messages that came back differ from those sent');
  }
  console.log(`${N} messages round-tripped (${how}), library ${libraryPath()}`);
};
