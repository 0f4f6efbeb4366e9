'use strict';
// Which prebuilt library fits this process: prebuilds/<platform>-<arch>,
// with a -musl suffix on Linux with musl libc (Alpine), whose programs
// cannot load a library built against glibc.

const fs = require('node:fs');

/**
 * Whether this Node runs on musl. Node's own report says which C library
 * it was started with: `glibcVersionRuntime` is there on glibc and absent
 * on musl, and musl's loader (ld-musl-*) is among the shared objects. The
 * answer comes from the running process, not from the distribution's name.
 * `report` is for tests.
 */
function isMusl(report = processReport()) {
  if (report) {
    if (report.header && report.header.glibcVersionRuntime) return false;
    const objects = Array.isArray(report.sharedObjects) ? report.sharedObjects : [];
    if (objects.some((f) => /(^|\/)(ld-musl-[^/]*\.so|libc\.musl-[^/]*\.so)/.test(f))) return true;
    if (objects.length > 0) return false;
  }
  // No report (Node built without it): the loader this process maps.
  try {
    return /\/ld-musl-/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return false;
  }
}

function processReport() {
  if (!process.report || typeof process.report.getReport !== 'function') return null;
  const excluded = process.report.excludeNetwork;
  try {
    process.report.excludeNetwork = true; // the report otherwise resolves every socket's peer
    return process.report.getReport();
  } catch {
    return null;
  } finally {
    process.report.excludeNetwork = excluded;
  }
}

/** The prebuilds/ directory name for this process, such as linux-x64-musl. */
function platformDir(platform = process.platform, arch = process.arch, musl = platform === 'linux' && isMusl()) {
  return `${platform}-${arch}${musl ? '-musl' : ''}`;
}

/** The library's file name on `platform`. */
function libraryFile(platform = process.platform) {
  return { darwin: 'libkapokmq.dylib', win32: 'kapokmq.dll' }[platform] || 'libkapokmq.so';
}

module.exports = { isMusl, platformDir, libraryFile };
