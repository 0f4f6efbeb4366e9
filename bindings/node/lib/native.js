'use strict';
// The C library, loaded once with koffi. Everything here is a thin
// declaration; the rules for using it (which calls may block, who owns which
// pointer) live in the modules that call it.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');
const { platformDir, libraryFile } = require('./platform');

const LIB_FILE = libraryFile();

const PACKAGE_DIR = path.join(__dirname, '..');
/** Where the published package carries the library: prebuilds/<platform>-<arch>[-musl]/. */
const PREBUILDS_DIR = path.join(PACKAGE_DIR, 'prebuilds');
const PLATFORM = platformDir();

/** Where the library is looked for, in order. */
function candidates() {
  const list = [];
  if (process.env.KAPOKMQ_LIB) list.push(path.resolve(process.env.KAPOKMQ_LIB));
  list.push(path.join(PREBUILDS_DIR, PLATFORM, LIB_FILE));
  list.push(path.join(PACKAGE_DIR, LIB_FILE));
  // A checkout of the repository: the release build.
  list.push(path.join(PACKAGE_DIR, '..', '..', 'target', 'release', LIB_FILE));
  return list;
}

/** The platforms the package carries a library for. */
function prebuiltPlatforms() {
  try {
    return fs.readdirSync(PREBUILDS_DIR).filter((d) => fs.existsSync(path.join(PREBUILDS_DIR, d)));
  } catch {
    return [];
  }
}

function findLibrary() {
  const tried = candidates();
  // $KAPOKMQ_LIB is an explicit choice: if it is wrong, say so rather than
  // quietly loading some other copy.
  if (process.env.KAPOKMQ_LIB) {
    if (fs.existsSync(tried[0])) return tried[0];
    throw new Error(`kapokmq: KAPOKMQ_LIB names ${tried[0]}, which does not exist`);
  }
  const found = tried.find((p) => fs.existsSync(p));
  if (!found) {
    const carried = prebuiltPlatforms();
    const has = carried.length > 0 ? `it has ${carried.join(', ')} only` : 'it has none';
    throw new Error(`kapokmq: this package has no native library for ${PLATFORM} (${has}); ` +
      `build ${LIB_FILE} from the kapokmq sources (cargo build --release -p kapokmq) and set KAPOKMQ_LIB to its path`);
  }
  return found;
}

const STATUS_NAMES = [
  'KMQ_OK',
  'KMQ_ERR_INVALID_ARGUMENT',
  'KMQ_ERR_AUTH',
  'KMQ_ERR_CONNECT',
  'KMQ_ERR_TIMEOUT',
  'KMQ_ERR_CLOSED',
  'KMQ_ERR_QUEUE_FULL',
  'KMQ_ERR_PROTOCOL',
  'KMQ_ERR_NO_NODES',
  'KMQ_ERR_INTERNAL',
];
const Status = Object.freeze(Object.fromEntries(STATUS_NAMES.map((n, i) => [n, i])));

// Declarations shared by the main thread and the call threads.
// Pointers are `void *` throughout: koffi 3 hands them out as untyped BigInts,
// so each wrapper keeps its own record of what a pointer is (see handle.js).
// Out-parameters are typed arrays that the caller owns.
const PROTOTYPES = {
  statusStr: 'const char *kmq_status_str(int s)',
  lastError: 'const char *kmq_last_error(void)',
  version: 'const char *kmq_version(void)',
  stringFree: 'void kmq_string_free(void *s)',

  configNew: 'void *kmq_config_new(void)',
  configSet: 'int kmq_config_set(void *cfg, const char *key, const char *value)',
  configFree: 'void kmq_config_free(void *cfg)',

  producerNew: 'int kmq_producer_new(void *cfg, void *out)',
  clusterProducerNew: 'int kmq_cluster_producer_new(void *cfg, void *out)',
  // Two views of one function: a JS string goes in as `const char *` (koffi
  // encodes it to UTF-8 on its own stack, the cheapest path), bytes as a
  // pointer to the Buffer's memory.
  sendTrackedStr: ['kmq_send_tracked', 'int', ['void *', 'const char *', 'size_t', 'int64_t', 'void *']],
  sendTrackedBuf: ['kmq_send_tracked', 'int', ['void *', 'const void *', 'size_t', 'int64_t', 'void *']],
  // msgs is an array of kmq_buf (BUF below) the caller lays out in a
  // typed array (see producer.js).
  sendManyTracked:
    'int kmq_send_many_tracked(void *p, const void *msgs, size_t count, int64_t delay_s, void *accepted, void *first_id)',
  // reports is a buffer of capacity kmq_delivery_reports (DELIVERY_REPORT
  // below), of which the first *count are read; the stats, the drain
  // report and the connection stats are buffers of their structs too.
  pollReports: 'int kmq_poll_reports(void *p, void *reports, size_t capacity, int64_t timeout_ms, void *count)',
  producerStats: 'int kmq_producer_get_stats(void *p, void *out)',
  // A flush and a close that return at once; their outcome comes as the
  // delivery report with the id written to *id (see producer.js).
  flushBegin: 'int kmq_flush_begin(void *p, int64_t timeout_ms, void *id)',
  producerCloseBegin: 'int kmq_producer_close_begin(void *p, int64_t timeout_ms, void *id)',
  producerCloseReport: 'int kmq_producer_close_report(void *p, void *out)',
  connectionStats: 'int kmq_producer_connection_stats(void *p, void *out, size_t capacity, void *count)',
  producerClose: 'void kmq_producer_close(void *p)',
  producerFree: 'void kmq_producer_free(void *p)',
  producerFd: 'int kmq_producer_fd(void *p)',
  producerSerial: 'uint64_t kmq_producer_serial(void *p)',
  // The statistics documents and the Prometheus page are written into the
  // caller's buffer, their length (without the NUL) to *len (see metrics.js).
  producerStatsJson: 'int kmq_producer_stats_json(void *p, void *buf, size_t capacity, void *len)',

  consumerNew: 'int kmq_consumer_new(void *cfg, void *out)',
  clusterConsumerNew: 'int kmq_cluster_consumer_new(void *cfg, void *out)',
  receive: 'int kmq_receive(void *c, int64_t timeout_ms, void *out)',
  ack: 'int kmq_ack(void *c, const char *code)',
  consumerStats: 'int kmq_consumer_get_stats(void *c, void *out)',
  consumerDrain: 'int kmq_consumer_drain(void *c, int64_t timeout_ms, void *report)',
  consumerClose: 'void kmq_consumer_close(void *c)',
  consumerFree: 'void kmq_consumer_free(void *c)',
  consumerFd: 'int kmq_consumer_fd(void *c)',
  consumerSerial: 'uint64_t kmq_consumer_serial(void *c)',
  consumerStatsJson: 'int kmq_consumer_stats_json(void *c, void *buf, size_t capacity, void *len)',
  // producers and consumers are arrays of pointers (BigUint64Arrays).
  prometheusText:
    'int kmq_prometheus_text(void *producers, size_t n_producers, void *consumers, size_t n_consumers, void *buf, size_t capacity, void *len)',

  messageCode: 'const char *kmq_message_code(void *m)',
  messageData: 'void *kmq_message_data(void *m, void *len)',
  messageTopic: 'const char *kmq_message_topic(void *m)',
  messageCreateTime: 'int64_t kmq_message_create_time(void *m)',
  messageConsumedTime: 'int64_t kmq_message_consumed_time(void *m)',
  messageDelayTime: 'int64_t kmq_message_delay_time(void *m)',
  messageStatus: 'int32_t kmq_message_status(void *m)',
  messageFree: 'void kmq_message_free(void *m)',

  // Strings the console hands out come back through a `char **` (a
  // BigUint64Array) and are freed with stringFree.
  consoleNew: 'int kmq_console_new(void *cfg, void *out)',
  consoleSendStr: ['kmq_console_send', 'int', ['void *', 'const char *', 'const char *', 'size_t', 'int64_t', 'void *']],
  consoleSendBuf: ['kmq_console_send', 'int', ['void *', 'const char *', 'const void *', 'size_t', 'int64_t', 'void *']],
  consolePing: 'int kmq_console_ping(void *c)',
  consoleClients: 'int kmq_console_clients(void *c, void *json)',
  consoleServerConfig: 'int kmq_console_server_config(void *c, void *json)',
  consoleCount: 'int kmq_console_count(void *c, void *json)',
  consoleGetMessage: 'int kmq_console_get_message(void *c, const char *code, void *json)',
  consoleListMessages:
    'int kmq_console_list_messages(void *c, const char *start_time, const char *end_time, int32_t status, const char *topic, void *json)',
  consoleDeleteMessage: 'int kmq_console_delete_message(void *c, const char *code)',
  consoleNodes: 'int kmq_console_nodes(void *c, void *json)',
  consoleFree: 'void kmq_console_free(void *c)',

  // The callbacks are addresses koffi.register handed out on the log thread
  // (see log-thread.js), so they travel as plain pointers.
  setLogCallback: 'void kmq_set_log_callback(void *callback, int32_t max_level, void *user_data)',
  setEventCallback: 'void kmq_set_event_callback(void *callback, void *user_data)',
};

// The structs of kapokmq.h, field for field. Their sizes and field offsets
// are koffi's, from these declarations; nothing reads them at an offset
// written by hand (see elementIndex for the typed-array views).

/** KMQ_REPORT_ERROR_SIZE: kmq_delivery_report.error, its NUL included. */
const REPORT_ERROR_SIZE = 256;
/** KMQ_NODE_SIZE: kmq_connection_stats.node, its NUL included. */
const NODE_SIZE = 272;

/** enum kmq_status, which C stores as an int. */
koffi.alias('kmq_status', 'int');
/** enum kmq_event_kind, likewise. */
koffi.alias('kmq_event_kind', 'int');

/** kmq_delivery_report; kmq_poll_reports fills an array of them. */
const DELIVERY_REPORT = koffi.struct('kmq_delivery_report', {
  id: 'uint64_t',
  status: 'kmq_status',
  opaque: 'void *',
  error: koffi.array('char', REPORT_ERROR_SIZE, 'String'),
});

/** kmq_buf; kmq_send_many_tracked takes an array of them. */
const BUF = koffi.struct('kmq_buf', {
  data: 'const char *',
  len: 'size_t',
});

/** kmq_producer_stats, written by kmq_producer_get_stats. */
const PRODUCER_STATS = koffi.struct('kmq_producer_stats', {
  enqueued: 'uint64_t',
  confirmed: 'uint64_t',
  failed: 'uint64_t',
  resent: 'uint64_t',
  reconnects: 'uint64_t',
  in_flight: 'uint64_t',
});

/** kmq_close_report, written by kmq_producer_close_report. */
const CLOSE_REPORT = koffi.struct('kmq_close_report', {
  confirmed: 'uint64_t',
  failed: 'uint64_t',
  in_flight: 'uint64_t',
});

/** kmq_consumer_stats, written by kmq_consumer_get_stats. */
const CONSUMER_STATS = koffi.struct('kmq_consumer_stats', {
  received: 'uint64_t',
  acked: 'uint64_t',
  reconnects: 'uint64_t',
  bad_frames: 'uint64_t',
  buffered: 'uint64_t',
});

/** kmq_drain_report, written by kmq_consumer_drain. */
const DRAIN_REPORT = koffi.struct('kmq_drain_report', {
  handed_out: 'uint64_t',
  acked: 'uint64_t',
  unacked: 'uint64_t',
  unread: 'uint64_t',
});

/**
 * A struct of 64-bit counters as koffi decoded it, as the plain object the
 * binding hands out: camelCase names (in_flight: inFlight), Number values.
 */
function counters(decoded) {
  const out = {};
  for (const [name, value] of Object.entries(decoded)) {
    out[name.replace(/_(\w)/g, (_, c) => c.toUpperCase())] = Number(value);
  }
  return out;
}

/** kmq_connection_stats, read out of a buffer with koffi.decode. */
const CONNECTION_STATS = koffi.struct('kmq_connection_stats', {
  node: koffi.array('char', NODE_SIZE, 'String'),
  connected: 'int32_t',
  written: 'uint64_t',
  confirmed: 'uint64_t',
  resent: 'uint64_t',
  reconnects: 'uint64_t',
  in_flight: 'uint64_t',
});

/** The C type of a log callback, for koffi.register. */
const LOG_CALLBACK = 'void kmq_log_fn(int level, const char *message, void *user_data)';

/** kmq_event, decoded with koffi.decode from the pointer its callback gets. */
const EVENT = koffi.struct('kmq_event', {
  kind: 'kmq_event_kind', // EVENT_TYPES[kind - 1]
  client: 'uint64_t',
  role: 'const char *',
  topic: 'const char *',
  client_id: 'const char *',
  node: 'const char *',
  reason: 'const char *',
  attempt: 'uint32_t',
  delay_ms: 'uint64_t',
});

/** The names of kmq_event_kind 1, 2, ... */
const EVENT_TYPES = ['connected', 'disconnected', 'reconnecting', 'node_added', 'node_removed'];

/** The C type of an event callback; the event comes as a pointer, decoded with EVENT. */
const EVENT_CALLBACK = 'void kmq_event_fn(const void *event, void *user_data)';

/**
 * Loads the library at `file` and declares `names` (all by default). A
 * function the library does not export is null rather than an error, so an
 * older build still loads and only the calls it lacks fail.
 */
function bind(file, names = Object.keys(PROTOTYPES)) {
  const lib = koffi.load(file);
  const fns = { file };
  for (const name of names) {
    const proto = PROTOTYPES[name];
    try {
      fns[name] = Array.isArray(proto) ? lib.func(...proto) : lib.func(proto);
    } catch (e) {
      if (!/cannot find function/i.test(String(e && e.message))) throw e;
      fns[name] = null;
    }
  }
  return fns;
}

/**
 * Where `member` of the struct `type` starts in a typed array of
 * `Elements` (Int32Array, Uint32Array, ...) laid over an array of such
 * structs: its element index within one struct; with no member, how many
 * elements one struct spans. For the hot paths, which read and write
 * whole batches of structs through typed arrays: koffi.decode and
 * koffi.encode convert one struct per call, to or from a JS object.
 */
function elementIndex(type, member, Elements) {
  const bytes = member === null ? koffi.sizeof(type) : koffi.offsetof(type, member);
  const index = bytes / Elements.BYTES_PER_ELEMENT;
  if (!Number.isInteger(index)) {
    throw new Error(`kapokmq: ${koffi.type(type).name}${member === null ? '' : `.${member}`} ` +
      `is not aligned for ${Elements.name}`);
  }
  return index;
}

let loaded = null;

/** The library's functions, loaded on first use. */
function native() {
  if (!loaded) loaded = bind(findLibrary());
  return loaded;
}

module.exports = {
  native, bind, findLibrary, Status, STATUS_NAMES, REPORT_ERROR_SIZE, NODE_SIZE,
  DELIVERY_REPORT, BUF, PRODUCER_STATS, CLOSE_REPORT, CONSUMER_STATS, DRAIN_REPORT, CONNECTION_STATS, elementIndex,
  LOG_CALLBACK, EVENT_CALLBACK, EVENT, EVENT_TYPES, koffi, counters,
};
