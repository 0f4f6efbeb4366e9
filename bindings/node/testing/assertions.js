'use strict';
// Assertions shared by the test files.

const assert = require('node:assert/strict');
const { KapokMQError } = require('..');

/** Asserts that `promiseOrFn` fails with a KapokMQError of `code` whose message matches `re`. */
async function rejectsWith(promiseOrFn, code, re = /./) {
  await assert.rejects(promiseOrFn, (e) => {
    assert.ok(e instanceof KapokMQError, `not a KapokMQError: ${e && e.stack}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

module.exports = { rejectsWith };
