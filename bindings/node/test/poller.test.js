'use strict';
// The process's poller on its own, over pipes: one report per watch, at
// once when the descriptor is readable, and a changed set seen at once by
// the running poll().

const { test } = require('node:test');
const assert = require('node:assert/strict');
const koffi = require('koffi');
const { poller } = require('../lib/poller');

const libc = koffi.load(null);
const pipe = libc.func('int pipe(_Out_ int *fds)');
const write = libc.func('long write(int fd, const void *buf, unsigned long count)');
const close = libc.func('int close(int fd)');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A pipe: { r, ring(), closeWriteEnd(), close() }. */
function makePipe() {
  const fds = new Int32Array(2);
  assert.equal(pipe(fds), 0);
  return {
    r: fds[0],
    ring: () => write(fds[1], Buffer.from('x'), 1),
    closeWriteEnd: () => close(fds[1]),
    close: () => {
      close(fds[0]);
      close(fds[1]);
    },
  };
}

/** Waits (up to 1 s) for the first report in `reports`; how long it took. */
async function firstReport(reports) {
  const t0 = performance.now();
  while (reports.length === 0 && performance.now() - t0 < 1000) await sleep(1);
  return performance.now() - t0;
}

/** Watches `fd` and records each report with the time it came. */
function watchRecorded(fd) {
  const t0 = performance.now();
  const reports = [];
  const cancel = poller.watch(fd, (err, ready) => reports.push({ err, ready, ms: performance.now() - t0 }));
  return { reports, cancel };
}

test('a readable descriptor is reported once, at once, and a cancel after that does nothing', async () => {
  const p = makePipe();
  const w = watchRecorded(p.r);
  await sleep(50);
  assert.deepEqual(w.reports, []);
  p.ring();
  const ms = await firstReport(w.reports);
  assert.ok(ms < 50, `reported ${ms} ms after it became readable`);
  w.cancel();
  await sleep(20);
  assert.equal(w.reports.length, 1);
  assert.equal(w.reports[0].err, null);
  assert.equal(w.reports[0].ready, true);
  assert.equal(poller.size, 0);
  p.close();
});

test('a cancelled watch is reported once, not ready, also when cancelled twice', async () => {
  const p = makePipe();
  const w = watchRecorded(p.r);
  await sleep(20);
  w.cancel();
  w.cancel();
  await sleep(20);
  assert.deepEqual(w.reports.map((r) => [r.err, r.ready]), [[null, false]]);
  assert.equal(poller.size, 0);
  // Cancelled before any poll() began.
  const early = watchRecorded(p.r);
  early.cancel();
  await sleep(10);
  assert.deepEqual(early.reports.map((r) => [r.err, r.ready]), [[null, false]]);
  p.close();
});

test('a watch added while poll() runs is polled at once, among many others', async () => {
  const quiet = Array.from({ length: 50 }, makePipe);
  const quietWatches = quiet.map((q) => watchRecorded(q.r));
  await sleep(30);
  const p = makePipe();
  const w = watchRecorded(p.r);
  await sleep(30);
  p.ring();
  const ms = await firstReport(w.reports);
  assert.ok(ms < 50, `reported ${ms} ms after it became readable: the new watch was not in the running poll()`);
  assert.equal(poller.size, 50);
  for (const q of quietWatches) q.cancel();
  await sleep(20);
  for (const q of quietWatches) assert.deepEqual(q.reports.map((r) => r.ready), [false]);
  assert.equal(poller.size, 0);
  for (const q of [...quiet, p]) q.close();
});

test('a hang-up is reported as ready', async () => {
  const p = makePipe();
  const w = watchRecorded(p.r);
  await sleep(20);
  // The write end closed: the read end polls POLLHUP.
  p.closeWriteEnd();
  await firstReport(w.reports);
  assert.deepEqual(w.reports.map((r) => [r.err, r.ready]), [[null, true]]);
  close(p.r);
});
