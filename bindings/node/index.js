'use strict';
// kapokmq: a KapokMQ client for Node, over the kapokmq C library (koffi).
// No call blocks the event loop: sends only enqueue, and everything that
// waits on the network runs on another thread. Nothing is logged unless
// asked for (setLogger, or a 'log' listener on logger); connection events
// come to a client's 'event' listeners, statistics from statsJson() and
// prometheusText().

const { native, Status } = require('./lib/native');
const { KapokMQError } = require('./lib/errors');
const { Producer, ClusterProducer } = require('./lib/producer');
const { Consumer, ClusterConsumer } = require('./lib/consumer');
const { Message } = require('./lib/message');
const { Console } = require('./lib/console');
const { Retry } = require('./lib/run');
const { logger, setLogger } = require('./lib/logger');
const { prometheusText } = require('./lib/client');

/** The C library's version, "MAJOR.MINOR.PATCH". */
function version() {
  return native().version();
}

/** The path of the loaded C library. */
function libraryPath() {
  return native().file;
}

module.exports = {
  Producer,
  Consumer,
  ClusterProducer,
  ClusterConsumer,
  Message,
  Console,
  Retry,
  KapokMQError,
  Status,
  version,
  libraryPath,
  logger,
  setLogger,
  prometheusText,
};
