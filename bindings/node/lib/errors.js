'use strict';

const { STATUS_NAMES, Status } = require('./native');

/**
 * Every failure of kapokmq. `code` is the status name ('KMQ_ERR_AUTH', ...),
 * `status` its number in the C API.
 */
class KapokMQError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'KapokMQError';
    this.code = code;
    this.status = Status[code];
  }
}

function statusName(status) {
  return STATUS_NAMES[status] || `KMQ_STATUS_${status}`;
}

/** An error for `status` with the library's message for this thread. */
function fromLastError(fns, status) {
  const message = fns.lastError() || `${statusName(status)}`;
  return new KapokMQError(statusName(status), message);
}

function invalidArgument(message) {
  return new KapokMQError('KMQ_ERR_INVALID_ARGUMENT', message);
}

function closedError(what) {
  return new KapokMQError('KMQ_ERR_CLOSED', `${what} is closed`);
}

/** The error of a call the loaded library (an older build) lacks `cName` for. */
function notExported(fns, cName) {
  return new KapokMQError('KMQ_ERR_INTERNAL', `${fns.file} does not export ${cName}`);
}

module.exports = { KapokMQError, statusName, fromLastError, invalidArgument, closedError, notExported };
