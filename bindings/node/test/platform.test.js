'use strict';
// Which prebuilt library a process picks: musl is told from the running
// process's own report, and the Windows poller keeps the watch() contract.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { isMusl, platformDir, libraryFile } = require('../lib/platform');
const { IntervalPoller } = require('../lib/poller');

test('a glibc process is not musl, whatever objects it maps', () => {
  const report = { header: { glibcVersionRuntime: '2.36' }, sharedObjects: ['/lib/x86_64-linux-gnu/libc.so.6'] };
  assert.equal(isMusl(report), false);
});

test("musl is told by the loader among the report's shared objects", () => {
  // Alpine's node: no glibcVersionRuntime, musl's loader mapped.
  for (const loader of ['/lib/ld-musl-x86_64.so.1', '/lib/ld-musl-aarch64.so.1', '/usr/lib/libc.musl-x86_64.so.1']) {
    assert.equal(isMusl({ header: {}, sharedObjects: ['linux-vdso.so.1', loader] }), true, loader);
  }
  assert.equal(isMusl({ header: {}, sharedObjects: ['/usr/lib/libstdc++.so.6'] }), false);
});

test('this machine: the answer matches the loader the process maps', () => {
  const fs = require('node:fs');
  const maps = fs.readFileSync('/proc/self/maps', 'utf8');
  assert.equal(isMusl(), /\/ld-musl-/.test(maps));
  const expected = `${process.platform}-${process.arch}${isMusl() ? '-musl' : ''}`;
  assert.equal(platformDir(), expected);
});

test('directory and file names per platform', () => {
  assert.equal(platformDir('linux', 'arm64', true), 'linux-arm64-musl');
  assert.equal(platformDir('linux', 'x64', false), 'linux-x64');
  assert.equal(platformDir('win32', 'x64', false), 'win32-x64');
  assert.equal(libraryFile('win32'), 'kapokmq.dll');
  assert.equal(libraryFile('linux'), 'libkapokmq.so');
  assert.equal(libraryFile('darwin'), 'libkapokmq.dylib');
});

test('the Windows poller reports each watch once: ready after its interval, or not ready when cancelled', async () => {
  const p = new IntervalPoller();
  const reports = [];
  p.watch(7, (err, ready) => reports.push(['a', err, ready]));
  const cancel = p.watch(8, (err, ready) => reports.push(['b', err, ready]));
  assert.equal(p.size, 2);
  cancel();
  cancel();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(reports.sort(), [['a', null, true], ['b', null, false]]);
  assert.equal(p.size, 0);
});
