'use strict';
// Calls that block on the network (connecting: up to connect_timeout_ms;
// every console call: one HTTP request) must not run on the event loop.
// koffi's `.async` would run them on a libuv pool thread, but
// kmq_last_error() is per thread: the reason a call failed ("Connection
// refused", "secret key rejected", a TLS error) would stay on that pool
// thread, out of reach. So they run on worker threads of our own, which make
// the call and read kmq_last_error() on the same thread (call-worker.js).
//
// At most MAX_THREADS calls run at once (the others wait their turn, each
// bounded by its own timeout), and one idle thread is kept for the next call.

const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { KapokMQError } = require('./errors');

const WORKER_FILE = path.join(__dirname, 'call-worker.js');
const MAX_THREADS = 8;
const MAX_IDLE = 1;
const idle = [];
/** Calls waiting for a thread: { libFile, job, resolve, reject }. */
const queue = [];
let running = 0;

function spawn(libFile) {
  const w = new Worker(WORKER_FILE, { workerData: { libFile } });
  w.on('exit', () => {
    const i = idle.indexOf(w);
    if (i >= 0) idle.splice(i, 1);
  });
  return w;
}

function next() {
  if (running >= MAX_THREADS || queue.length === 0) return;
  const { libFile, job, resolve, reject } = queue.shift();
  running++;
  const finish = (settle, value) => {
    running--;
    settle(value);
    next();
  };
  const w = idle.pop() || spawn(libFile);
  // Referenced while it works, so a pending call keeps the process up.
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
    finish(resolve, r);
  };
  const onError = (e) => {
    done();
    w.terminate();
    finish(reject, new KapokMQError('KMQ_ERR_INTERNAL', `${job.fn}: call thread failed: ${e && e.message}`));
  };
  const onExit = (code) => {
    done();
    finish(reject, new KapokMQError('KMQ_ERR_INTERNAL', `${job.fn}: call thread exited (code ${code})`));
  };
  w.on('message', onMessage);
  w.on('error', onError);
  w.on('exit', onExit);
  w.postMessage(job);
}

/**
 * Runs `fns[job.fn](...job.args[, out])` of native.js on a call thread and
 * resolves with `{ status, value, message }`: with `job.out` 'pointer' or
 * 'string', the call gets a last `out` argument whose pointer (or string,
 * then freed) is `value`; `message` is kmq_last_error() when it failed.
 * Pointers among `job.args` must stay alive until then.
 */
function callOnThread(libFile, job) {
  return new Promise((resolve, reject) => {
    queue.push({ libFile, job, resolve, reject });
    next();
  });
}

module.exports = { callOnThread };
