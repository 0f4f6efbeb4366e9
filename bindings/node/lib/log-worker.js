'use strict';
// The log thread (see log-thread.js). The library calls the callbacks
// registered here, for log messages and for connection events, from its own
// threads; koffi queues each call to this thread's event loop and holds the
// calling thread until it has run. This loop never makes a library call, so
// it is always free to run them: the library's threads wait a moment, never
// on the application's main thread. Each call becomes a message to the main
// thread, [kind, ...]: ['log', level, message] or ['event', event].

const { parentPort, workerData } = require('node:worker_threads');

// The main thread waits on `ready`: 1 with the callbacks' addresses from
// offset 8 (the log callback, then the event callback), or 2 when they
// could not be made.
const { slot } = workerData;
const ready = new Int32Array(slot, 0, 1);
try {
  const { koffi, LOG_CALLBACK, EVENT_CALLBACK, EVENT, EVENT_TYPES } = require('./native');
  const onLog = koffi.register((level, message) => {
    parentPort.postMessage(['log', level, message]);
  }, koffi.pointer(koffi.proto(LOG_CALLBACK)));
  // The event's strings live during the call only: they are copied here.
  const onEvent = koffi.register((ptr) => {
    const e = koffi.decode(ptr, EVENT);
    parentPort.postMessage(['event', {
      type: EVENT_TYPES[e.kind - 1] || String(e.kind),
      client: Number(e.client),
      role: e.role || '',
      topic: e.topic || '',
      clientId: e.client_id || '',
      node: e.node || '',
      reason: e.reason || '',
      attempt: e.attempt,
      delayMs: Number(e.delay_ms),
    }]);
  }, koffi.pointer(koffi.proto(EVENT_CALLBACK)));
  new BigUint64Array(slot, 8, 2).set([onLog, onEvent]);
  Atomics.store(ready, 0, 1);
} catch (e) {
  Atomics.store(ready, 0, 2);
  throw e;
} finally {
  Atomics.notify(ready, 0);
}

// Listening keeps this thread's loop alive until the process ends.
parentPort.on('message', () => {});
