'use strict';
// Connecting blocks until the handshake is done (up to connect_timeout_ms),
// so it must not run on the event loop. koffi's `.async` would run it on a
// libuv pool thread, but kmq_last_error() is per thread: the reason a
// connect failed ("Connection refused", "secret key rejected", a TLS error)
// would stay on that pool thread, out of reach. So connects run on a worker
// thread of our own, which makes the call and reads kmq_last_error() on the
// same thread. One idle worker is kept for the next connect.

const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { KapokMQError } = require('./errors');

const WORKER_FILE = path.join(__dirname, 'connect-worker.js');
const MAX_IDLE = 1;
const idle = [];

function spawn(libFile) {
  const w = new Worker(WORKER_FILE, { workerData: { libFile } });
  w.on('exit', () => {
    const i = idle.indexOf(w);
    if (i >= 0) idle.splice(i, 1);
  });
  return w;
}

/**
 * Runs `fn` (a *_new function name of native.js) with the config pointer
 * `cfg` on a connect thread. Resolves with `{ status, ptr, message }`.
 * `cfg` must stay alive until then.
 */
function connectOnThread(libFile, fn, cfg) {
  return new Promise((resolve, reject) => {
    const w = idle.pop() || spawn(libFile);
    // Referenced while it works, so a pending connect keeps the process up.
    w.ref();
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (r) => {
      done();
      w.unref();
      if (idle.length < MAX_IDLE) idle.push(w);
      else w.terminate();
      resolve(r);
    };
    const onError = (e) => {
      done();
      w.terminate();
      reject(new KapokMQError('KMQ_ERR_INTERNAL', `connect thread failed: ${e && e.message}`));
    };
    const onExit = (code) => {
      done();
      reject(new KapokMQError('KMQ_ERR_INTERNAL', `connect thread exited (code ${code})`));
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.postMessage({ fn, cfg });
  });
}

module.exports = { connectOnThread };
