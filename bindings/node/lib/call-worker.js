'use strict';
// A call thread (see call-thread.js): one blocking call per message, and
// the error message read on this same thread, right after the call.

const { parentPort, workerData } = require('node:worker_threads');
const { bind, koffi, counters, DRAIN_REPORT } = require('./native');

const fns = bind(workerData.libFile, [
  'lastError', 'stringFree',
  'producerNew', 'clusterProducerNew', 'consumerNew', 'clusterConsumerNew', 'consumerDrain',
  'consoleSendStr', 'consoleSendBuf', 'consolePing', 'consoleClients', 'consoleServerConfig',
  'consoleCount', 'consoleGetMessage', 'consoleListMessages', 'consoleDeleteMessage', 'consoleNodes',
]);

parentPort.on('message', ({ fn, args, out }) => {
  // A drain's report is a kmq_drain_report; every other out-value one word.
  const slot = !out ? null : out === 'drain' ? Buffer.alloc(koffi.sizeof(DRAIN_REPORT)) : new BigUint64Array(1);
  const status = slot ? fns[fn](...args, slot) : fns[fn](...args);
  if (status !== 0) {
    parentPort.postMessage({ status, value: null, message: fns.lastError() });
    return;
  }
  let value = null;
  if (out === 'pointer') {
    value = slot[0];
  } else if (out === 'drain') {
    value = counters(koffi.decode(slot, DRAIN_REPORT));
  } else if (out === 'string' && slot[0] !== 0n) {
    try {
      value = koffi.decode.string(slot[0]);
    } finally {
      fns.stringFree(slot[0]);
    }
  }
  parentPort.postMessage({ status, value, message: '' });
});
