'use strict';
// How the package finds its library outside a checkout: the copy that
// `npm pack` puts in prebuilds/<platform>-<arch>/, or one line saying what
// to do when the package has none for this machine.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PACKAGE_DIR = path.join(__dirname, '..');

/** A copy of the package's files (as `npm pack` lists them) in a fresh directory, with koffi. */
function packageCopy(t) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapokmq-pkg-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'node_modules', 'kapokmq');
  for (const f of ['package.json', 'index.js', 'index.mjs', 'lib']) {
    fs.cpSync(path.join(PACKAGE_DIR, f), path.join(dir, f), { recursive: true });
  }
  fs.symlinkSync(path.join(PACKAGE_DIR, 'node_modules', 'koffi'), path.join(root, 'node_modules', 'koffi'));
  return { root, dir };
}

function run(cwd, code) {
  const env = { ...process.env };
  delete env.KAPOKMQ_LIB;
  return spawnSync(process.execPath, ['-e', code], { cwd, env, encoding: 'utf8' });
}

const platform = `${process.platform}-${process.arch}`;

test('without a library for this platform, require says so in one line', (t) => {
  const { root, dir } = packageCopy(t);
  fs.mkdirSync(path.join(dir, 'prebuilds', 'sunos-sparc'), { recursive: true });
  const r = run(root, "try { require('kapokmq').version() } catch (e) { console.log(e.message) }");
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  assert.match(lines[0], new RegExp(`no native library for ${platform} \\(it has sunos-sparc only\\)`));
  assert.match(lines[0], /set KAPOKMQ_LIB/);
});

test('the library in prebuilds/<platform>-<arch>/ is found with no KAPOKMQ_LIB', (t) => {
  const lib = process.env.KAPOKMQ_LIB || path.join(PACKAGE_DIR, '..', '..', 'target', 'release', 'libkapokmq.so');
  if (process.platform !== 'linux') return t.skip('the test copies a Linux build');
  const { root, dir } = packageCopy(t);
  const target = path.join(dir, 'prebuilds', platform, 'libkapokmq.so');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(lib, target);
  const r = run(root, "const k = require('kapokmq'); console.log(k.libraryPath(), k.version())");
  assert.equal(r.status, 0, r.stderr);
  const [file, version] = r.stdout.trim().split(' ');
  assert.equal(fs.realpathSync(file), fs.realpathSync(target));
  assert.match(version, /^\d+\.\d+\.\d+$/);
});
