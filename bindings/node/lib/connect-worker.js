'use strict';
// The connect thread (see connect-thread.js): one blocking *_new call per
// message, and the error message read on this same thread.

const { parentPort, workerData } = require('node:worker_threads');
const { bind } = require('./native');

const fns = bind(workerData.libFile, [
  'lastError', 'producerNew', 'clusterProducerNew', 'consumerNew', 'clusterConsumerNew',
]);

parentPort.on('message', ({ fn, cfg }) => {
  const out = new BigUint64Array(1);
  const status = fns[fn](cfg, out);
  parentPort.postMessage({ status, ptr: out[0], message: status === 0 ? '' : fns.lastError() });
});
