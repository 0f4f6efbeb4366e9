'use strict';
// Runs a script of testing/fixtures in its own node process.

const path = require('node:path');
const { execFile } = require('node:child_process');

/** Runs fixture `name` with node and resolves with { stdout, stderr, ms }; rejects if it fails or outlives 15 s. */
function runFixture(name, args = [], nodeFlags = []) {
  const file = path.join(__dirname, 'fixtures', name);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeFlags, file, ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} failed (${err.signal || err.code}): ${stderr}`));
      else resolve({ stdout: stdout.trim(), stderr, ms: Date.now() - t0 });
    });
  });
}

module.exports = { runFixture };
