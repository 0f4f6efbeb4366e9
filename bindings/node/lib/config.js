'use strict';
// Connect options → a kmq_config. Options are the library's config keys in
// camelCase (producerId → producer_id); the library checks keys and values,
// so there is one list of keys, in the library.

const { native } = require('./native');
const { KapokMQError, fromLastError, invalidArgument, statusName, notExported } = require('./errors');
const { callOnThread } = require('./call-thread');

function snakeCase(key) {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function optionValue(key, value) {
  if (typeof value === 'string') {
    if (value.includes('\0')) throw invalidArgument(`option ${key}: contains a NUL character`);
    return value;
  }
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint' ||
      typeof value === 'boolean') {
    return String(value);
  }
  throw invalidArgument(`option ${key}: expected a string, a number or a boolean, got ${typeof value}`);
}

/** A new kmq_config holding `options`; the caller frees it. */
function buildConfig(fns, options) {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object, e.g. { topic, producerId }');
  }
  const cfg = fns.configNew();
  if (!cfg) throw new KapokMQError('KMQ_ERR_INTERNAL', 'kmq_config_new: out of memory');
  try {
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined || value === null) continue;
      if (!/^[a-z][A-Za-z0-9]*$/.test(key)) {
        throw invalidArgument(`option ${JSON.stringify(key)}: not a config key in camelCase`);
      }
      const status = fns.configSet(cfg, snakeCase(key), optionValue(key, value));
      if (status !== 0) {
        const e = fromLastError(fns, status);
        e.message = `option ${key}: ${e.message}`;
        throw e;
      }
    }
  } catch (e) {
    fns.configFree(cfg);
    throw e;
  }
  return cfg;
}

/**
 * Connects with the native constructor `fn` (e.g. 'producerNew') off the
 * event loop and resolves with the new handle's pointer.
 */
async function connectPointer(fn, options, cName) {
  const fns = native();
  if (!fns[fn]) throw notExported(fns, cName);
  const cfg = buildConfig(fns, options);
  try {
    const r = await callOnThread(fns.file, { fn, args: [cfg], out: 'pointer' });
    if (r.status !== 0) throw new KapokMQError(statusName(r.status), r.message || statusName(r.status));
    return r.value;
  } finally {
    fns.configFree(cfg);
  }
}

module.exports = { buildConfig, connectPointer, snakeCase };
