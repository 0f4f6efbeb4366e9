'use strict';
// `npm pack` / `npm publish` step: puts the built C library inside the
// package, at prebuilds/<platform>-<arch>[-musl]/, where lib/native.js looks
// first, so that the tarball installs with nothing else. Either
// $KAPOKMQ_PREBUILDS names a prebuilds/ tree to copy as it is (`make dist`
// passes one with a stripped library for every platform it builds), or the
// one library for this machine is $KAPOKMQ_PREBUILT_LIB or the repository's
// release build, and the copy is stripped of debug info.
// `node scripts/prepack.js --clean` (postpack) removes it again, so that a
// checkout keeps loading its fresh build.

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PACKAGE_DIR = path.join(__dirname, '..');
const PREBUILDS_DIR = path.join(PACKAGE_DIR, 'prebuilds');
const { platformDir, libraryFile } = require('../lib/platform');

const LIB_FILE = libraryFile();

function fail(message) {
  console.error(`kapokmq prepack: ${message}`);
  process.exit(1);
}

if (process.argv.includes('--clean')) {
  fs.rmSync(PREBUILDS_DIR, { recursive: true, force: true });
  process.exit(0);
}

if (process.env.KAPOKMQ_PREBUILDS) {
  const from = path.resolve(process.env.KAPOKMQ_PREBUILDS);
  const platforms = fs.existsSync(from) ? fs.readdirSync(from) : [];
  if (platforms.length === 0) fail(`KAPOKMQ_PREBUILDS names ${from}, which holds no platform directory`);
  fs.rmSync(PREBUILDS_DIR, { recursive: true, force: true });
  fs.cpSync(from, PREBUILDS_DIR, { recursive: true });
  console.error(`kapokmq prepack: prebuilds/ for ${platforms.sort().join(', ')} from ${from}`);
  process.exit(0);
}

const source = process.env.KAPOKMQ_PREBUILT_LIB
  ? path.resolve(process.env.KAPOKMQ_PREBUILT_LIB)
  : path.join(PACKAGE_DIR, '..', '..', 'target', 'release', LIB_FILE);
if (!fs.existsSync(source)) {
  fail(`no library at ${source}: build it (cargo build --release -p kapokmq at the repository root) ` +
    'or set KAPOKMQ_PREBUILT_LIB to a built one');
}

const dir = path.join(PREBUILDS_DIR, platformDir());
fs.rmSync(PREBUILDS_DIR, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const target = path.join(dir, LIB_FILE);
fs.copyFileSync(source, target);
fs.chmodSync(target, 0o755);

// Debug info is most of a release build's size and no use to an installed
// package. Platforms without GNU strip ship the copy as it is.
if (process.platform === 'linux') {
  const strip = spawnSync(process.env.STRIP || 'strip', ['--strip-debug', target], { stdio: 'inherit' });
  if (strip.error || strip.status !== 0) {
    fail(`strip --strip-debug ${target} failed: ${strip.error ? strip.error.message : `exit ${strip.status}`}`);
  }
}
const mb = (fs.statSync(target).size / 1e6).toFixed(1);
console.error(`kapokmq prepack: ${path.relative(PACKAGE_DIR, target)} (${mb} MB) from ${source}`);
