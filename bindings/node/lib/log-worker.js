'use strict';
// The log thread (see logger.js). The library calls the callback registered
// here from any thread; koffi queues each call to this thread's event loop
// and holds the calling thread until it has run. This loop never makes a
// library call, so it is always free to run it: the library's threads wait
// a moment, never on the application's main thread.

const { parentPort, workerData } = require('node:worker_threads');

// The main thread waits on `ready`: 1 with the callback's address at
// offset 8, or 2 when it could not be made.
const { slot } = workerData;
const ready = new Int32Array(slot, 0, 1);
try {
  const { koffi, LOG_CALLBACK } = require('./native');
  const LogCallback = koffi.proto(LOG_CALLBACK);
  const callback = koffi.register((level, message) => {
    parentPort.postMessage([level, message]);
  }, koffi.pointer(LogCallback));
  new BigUint64Array(slot, 8, 1)[0] = callback;
  Atomics.store(ready, 0, 1);
} catch (e) {
  Atomics.store(ready, 0, 2);
  throw e;
} finally {
  Atomics.notify(ready, 0);
}

// Listening keeps this thread's loop alive until the process ends.
parentPort.on('message', () => {});
