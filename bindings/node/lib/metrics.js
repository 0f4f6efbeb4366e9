'use strict';
// The statistics documents (kmq_producer_stats_json, kmq_consumer_stats_json)
// and the Prometheus page (kmq_prometheus_text). The library writes each
// into a buffer of the caller's and its length to *len; when the buffer is
// too small it writes nothing and says KMQ_ERR_INVALID_ARGUMENT with the
// length needed, and the call is made again with that much and some to
// spare (the figures move between the calls). None of them waits.

const { Status } = require('./native');
const { fromLastError, notExported } = require('./errors');

/** Bytes to spare on a second call. */
const SLACK = 1024;
/** The room to start with per function: the most it needed so far, so that a call mostly fits at once. */
const rooms = new Map([['producerStatsJson', 4096], ['consumerStatsJson', 4096], ['prometheusText', 16384]]);
const lenOut = new BigUint64Array(1);

/** The text `fns[name](...args, buf, capacity, len)` writes (`cName` for the error of a library without it). */
function render(fns, name, cName, args) {
  const fn = fns[name];
  if (!fn) throw notExported(fns, cName);
  for (let room = rooms.get(name); ;) {
    const buf = Buffer.allocUnsafe(room);
    lenOut[0] = 0n;
    const status = fn(...args, buf, room, lenOut);
    const len = Number(lenOut[0]);
    if (status === Status.KMQ_OK) return buf.toString('utf8', 0, len);
    // Not a matter of room (a bad handle): the library's error.
    if (status !== Status.KMQ_ERR_INVALID_ARGUMENT || len < room) throw fromLastError(fns, status);
    room = len + 1 + SLACK;
    rooms.set(name, room);
  }
}

/** The statistics document of the producer or consumer (`kind`) at `ptr`, as JSON text. */
function statsDocument(fns, kind, ptr) {
  return kind === 'producer'
    ? render(fns, 'producerStatsJson', 'kmq_producer_stats_json', [ptr])
    : render(fns, 'consumerStatsJson', 'kmq_consumer_stats_json', [ptr]);
}

/** The Prometheus page of the producers and consumers at the pointers given. */
function prometheusPage(fns, producers, consumers) {
  const ps = producers.length > 0 ? BigUint64Array.from(producers) : null;
  const cs = consumers.length > 0 ? BigUint64Array.from(consumers) : null;
  return render(fns, 'prometheusText', 'kmq_prometheus_text', [ps, producers.length, cs, consumers.length]);
}

module.exports = { statsDocument, prometheusPage };
