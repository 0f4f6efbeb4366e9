'use strict';
// A produce/consume round trip with an installed kapokmq package (see
// roundtrip.mjs for the same as an ES module):
//   node roundtrip.js PORT TOPIC
const kmq = require('kapokmq');
const run = require('./roundtrip-common.js');

run(kmq, 'require').catch((e) => {
  console.error(`roundtrip.js: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 1;
});
