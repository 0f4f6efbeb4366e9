// The round trip of roundtrip.js through `import`, default and named.
import kmq, { Producer, Consumer } from 'kapokmq';
import { createRequire } from 'node:module';

const run = createRequire(import.meta.url)('./roundtrip-common.js');
if (kmq.Producer !== Producer || kmq.Consumer !== Consumer) throw new Error('named imports differ from the default');
run({ Producer, Consumer, libraryPath: kmq.libraryPath }, 'import').catch((e) => {
  console.error(`roundtrip.mjs: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 1;
});
