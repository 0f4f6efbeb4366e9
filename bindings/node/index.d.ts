// Types for kapokmq, the KapokMQ client for Node.js.

import { EventEmitter } from 'node:events';

// Only what is marked `export` is exported (Client is not, as at run time).
export {};

/** The status names of the C API; `KapokMQError.code` is one of the error ones. */
export type StatusName =
  | 'KMQ_OK'
  | 'KMQ_ERR_INVALID_ARGUMENT'
  | 'KMQ_ERR_AUTH'
  | 'KMQ_ERR_CONNECT'
  | 'KMQ_ERR_TIMEOUT'
  | 'KMQ_ERR_CLOSED'
  | 'KMQ_ERR_QUEUE_FULL'
  | 'KMQ_ERR_PROTOCOL'
  | 'KMQ_ERR_NO_NODES'
  | 'KMQ_ERR_INTERNAL';

export type ErrorCode = Exclude<StatusName, 'KMQ_OK'>;

/** Status numbers of the C API, by name. */
export declare const Status: Readonly<Record<StatusName, number>>;

/** Every failure of kapokmq. */
export declare class KapokMQError extends Error {
  readonly name: 'KapokMQError';
  /** The status name, e.g. 'KMQ_ERR_AUTH'. */
  readonly code: ErrorCode;
  /** The status number in the C API. */
  readonly status: number;
  /**
   * Set by sendMany(): how many of the batch's messages were enqueued
   * (before the refused one, or all of them when some failed later).
   */
  readonly accepted?: number;
}

/** The library's config keys in camelCase. Numbers may be given as numbers. */
export interface CommonOptions {
  /** Topic name (required). */
  topic: string;
  /** MQ node host; default '127.0.0.1'. */
  mqAddr?: string;
  /** MQ node port; default 8011. */
  mqPort?: number | string;
  /** 'ws' (default) or 'wss'. */
  mqProtocol?: 'ws' | 'wss';
  /** Server / registry secret key; default 'test'. */
  secretKey?: string;
  /** Seconds between registry polls and reconnect checks; default 3. */
  checkTime?: number | string;
  /** Serena registry host (cluster clients). */
  registryAddr?: string;
  /** Registry port; default 8031. */
  registryPort?: number | string;
  /** 'http' (default) or 'https'. */
  registryProtocol?: 'http' | 'https';
  /** How long connecting may take, ms; default 5000. */
  connectTimeoutMs?: number | string;
  /** Longest wait between attempts to reconnect, ms; default 5000 (waits grow from 100 ms, drawn at random below their bound). */
  reconnectMaxMs?: number | string;
  /** PEM file of the certificate authorities (or self-signed server certificates) to trust for wss:// and https://. */
  tlsCaFile?: string;
  /** false: do not check server certificates (testing only); default true. */
  tlsVerify?: boolean | string;
  /** SHA-256 fingerprints (hex or base64, comma separated) of the only server certificates to accept. */
  tlsPinSha256?: string;
}

export interface ProducerOptions extends CommonOptions {
  /** Producer id (required). */
  producerId: string;
  /** A message not confirmed within this many ms fails with KMQ_ERR_TIMEOUT; default 30000. */
  messageTimeoutMs?: number | string;
  /** Unconfirmed messages held before send() fails with KMQ_ERR_QUEUE_FULL; default 1000000. */
  queueMax?: number | string;
  /** Connections a producer keeps to each node, 1 to 64; default 1 (order then holds per connection). */
  connections?: number | string;
  /** Messages written and not yet confirmed per connection; default 4096. */
  maxInFlight?: number | string;
  /** Bytes of messages written and not yet confirmed per connection; default 8388608. */
  maxInFlightBytes?: number | string;
}

export interface ConsumerOptions extends CommonOptions {
  /** Consumer id (required). */
  consumerId: string;
  /** Pushed messages buffered before the socket is left unread; default 10000. */
  receiveBuffer?: number | string;
}

export interface SendOptions {
  /** Deliver after this many whole seconds; default 0. */
  delay?: number;
}

export interface TimeoutOptions {
  /** Milliseconds; -1 or omitted: no limit; 0: do not wait. */
  timeout?: number;
}

export interface ConnectionStats {
  /** The node, as host:port. */
  node: string;
  /** Whether the connection is open now. */
  connected: boolean;
  /** Messages written on it, resends included. */
  written: number;
  /** Messages the node confirmed on it. */
  confirmed: number;
  /** Messages written on it again after a drop. */
  resent: number;
  /** Times it was opened again after the first. */
  reconnects: number;
  /** Messages written on it and awaiting their "ok" now. */
  inFlight: number;
}

/** What became of a producer's messages when it closed. */
export interface CloseReport {
  /** Messages the server confirmed, over the producer's life. */
  confirmed: number;
  /** Messages that failed before the close (timed out). */
  failed: number;
  /** Messages still unconfirmed when the flush ended: failed by the close. */
  inFlight: number;
}

/** Thrown by a run() handler: the message is sent again after `delaySeconds`. */
export declare class Retry extends Error {
  constructor(delaySeconds: number);
  readonly delaySeconds: number;
}

/** Where the messages of a drained consumer ended. */
export interface DrainReport {
  /** Messages received during the drain. */
  handedOut: number;
  /** Acks given during the drain, for messages received at any time. */
  acked: number;
  /** Messages received and never acked: the node pushes them again. */
  unacked: number;
  /** Messages never received (still buffered, or pushed after the drain began): pushed again too. */
  unread: number;
}

export interface ProducerStats {
  /** Messages accepted by send() and sendMany(). */
  enqueued: number;
  /** Messages the server confirmed. */
  confirmed: number;
  /** Messages that failed (timed out, or the producer closed). */
  failed: number;
  /** Messages written again on a new connection after a drop. */
  resent: number;
  /** Connections opened again after the first. */
  reconnects: number;
  /** Messages neither confirmed nor failed yet. */
  inFlight: number;
}

export interface ConsumerStats {
  /** Messages pushed by the server. */
  received: number;
  /** Acks given. */
  acked: number;
  /** Connections opened again after the first. */
  reconnects: number;
  /** Frames from the server that were not a message, skipped. */
  badFrames: number;
  /** Received, not yet handed out by receive(). */
  buffered: number;
}

/** Confirm latency in microseconds: time from send to the node's "ok". */
export interface ConfirmLatency {
  /** Percentiles and the longest, over the last `window_s` seconds (0 when none). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Timed sends in the window (the library times at most one send per tick of its coarse clock). */
  count: number;
  /** The window, seconds (60). */
  window_s: number;
  /** Timed sends over the producer's life, and the sum of their latencies. */
  total_count: number;
  total_sum: number;
}

/** What statsJson() says of each connection, producer's or consumer's. */
export interface ConnectionDocument {
  /** The connection's number within its client. */
  id: number;
  /** The node, as host:port. */
  node: string;
  state: 'connected' | 'connecting';
  /** Unix ms when it opened; null while connecting. */
  connected_since_ms: number | null;
  /** Times it was opened again after the first. */
  reconnects: number;
  bytes_in: number;
  bytes_out: number;
  /** Why the last connection or attempt failed; null if none did. */
  last_error: string | null;
}

/** What statsJson() says of every client. */
export interface StatsDocument {
  /** The client's serial (its `serial`, and the `client` of its events). */
  client: number;
  topic: string;
  /** Its producerId or consumerId. */
  client_id: string;
  closed: boolean;
  /** Unix ms when the document was made. */
  time_ms: number;
  /** Connections opened again after a loss. */
  reconnects: number;
}

/** producer.statsJson(): its counters (as stats()), confirm latency and connections. */
export interface ProducerStatsJson extends StatsDocument {
  role: 'producer';
  enqueued: number;
  confirmed: number;
  failed: number;
  resent: number;
  in_flight: number;
  confirm_latency_us: ConfirmLatency;
  /** Open or being made again; a connection that ended leaves the list. */
  connections: Array<ConnectionDocument & {
    /** Messages written on it, resends included. */
    written: number;
    confirmed: number;
    resent: number;
    in_flight: number;
  }>;
}

/** consumer.statsJson(): its counters (as stats()), acks and receive buffer, and connections. */
export interface ConsumerStatsJson extends StatsDocument {
  role: 'consumer';
  received: number;
  /** Acks given with ack(). */
  acked: number;
  /** Acks written to a connection. */
  acks_written: number;
  /** Messages handed out by receive() and not yet acked. */
  unacked: number;
  /** Received, not yet handed out. */
  buffered: number;
  /** receiveBuffer. */
  buffer_capacity: number;
  bad_frames: number;
  connections: Array<ConnectionDocument & {
    received: number;
    acks_written: number;
  }>;
}

export type KapokMQEventType = 'connected' | 'disconnected' | 'reconnecting' | 'node_added' | 'node_removed';

/** Something that happened to one of a client's connections (its 'event' event). */
export interface KapokMQEvent {
  /**
   * 'connected' (the first time or again), 'disconnected' (`reason` says
   * why), 'reconnecting' (the `attempt`-th try comes after `delayMs`),
   * 'node_added' or 'node_removed' (cluster clients).
   */
  type: KapokMQEventType;
  /** The node, as host:port. */
  node: string;
  /** Why the connection ended or the node left; '' for other types. */
  reason: string;
  /** 'reconnecting': the attempt about to be made, from 1; else 0. */
  attempt: number;
  /** 'reconnecting': how long the client waits before it, ms; else 0. */
  delayMs: number;
  role: 'producer' | 'consumer';
  topic: string;
  /** The client's producerId or consumerId. */
  clientId: string;
  /** The client's serial. */
  client: number;
}

/** One received message, copied out of the library. */
export declare class Message {
  private constructor();
  /** 32 hex digits; pass the message or its code to ack(). */
  readonly code: string;
  /** The payload bytes. */
  readonly data: Buffer;
  /** The payload decoded as UTF-8. */
  readonly text: string;
  readonly topic: string;
  /** Unix seconds when the server stored the message. */
  readonly createTime: number;
  /** Unix seconds when it was consumed; 0 when not yet. */
  readonly consumedTime: number;
  /** Delay in seconds (for a redelivery: seconds since it was created). */
  readonly delayTime: number;
  /** The server's status: -1 waiting, 0 delayed, 1 consumed. */
  readonly status: number;
}

/**
 * What producers and consumers share: they emit 'event' (a KapokMQEvent)
 * for each connection event while they have 'event' listeners. The
 * library's callback is installed with the first listener of any client
 * and removed with the last; it never keeps the process alive.
 */
declare abstract class Client<StatsJson> extends EventEmitter {
  /** Unique among the clients of the process, from 1: the `client` of its events and statsJson(). */
  readonly serial: number;
  /** Everything the library counts for the client and each connection's state (after close: as it was then). */
  statsJson(): StatsJson;
  on(event: 'event', listener: (event: KapokMQEvent) => void): this;
  once(event: 'event', listener: (event: KapokMQEvent) => void): this;
  off(event: 'event', listener: (event: KapokMQEvent) => void): this;
  addListener(event: 'event', listener: (event: KapokMQEvent) => void): this;
  removeListener(event: 'event', listener: (event: KapokMQEvent) => void): this;
  prependListener(event: 'event', listener: (event: KapokMQEvent) => void): this;
}

export declare class Producer extends Client<ProducerStatsJson> {
  /** Connects (off the event loop) and completes the handshake. */
  static connect(options: ProducerOptions): Promise<Producer>;
  protected constructor();
  /** True once closed, by close() or because the connection is lost for good. */
  readonly closed: boolean;
  /**
   * Enqueues a message (a string, or a Buffer of UTF-8) without blocking.
   * Resolves when the server confirms it; rejects with a KapokMQError.
   */
  send(data: string | Uint8Array, options?: SendOptions): Promise<void>;
  /**
   * Enqueues every message, in order, in one call into the library (far
   * cheaper per message than send()). Resolves once every one is
   * confirmed. Rejects with a KapokMQError whose `accepted` says how many
   * were enqueued: with the refusal that stopped the batch part-way (bad
   * data, KMQ_ERR_QUEUE_FULL, KMQ_ERR_CLOSED) once the messages before it
   * are settled, or with the first failure once all are settled.
   */
  sendMany(messages: Iterable<string | Uint8Array>, options?: SendOptions): Promise<void>;
  /**
   * Resolves once every message sent before the call is confirmed. Rejects
   * with the last failure's code if some failed ("flush: 3 messages failed;
   * the last because: ..."), or with KMQ_ERR_TIMEOUT after `timeout` ms
   * ("flush: 2 messages still unconfirmed after 500 ms").
   */
  flush(options?: TimeoutOptions): Promise<void>;
  /**
   * Flushes for at most `timeout` ms (default 5000), then closes, off the
   * event loop. Resolves once closed and every send settled; messages still
   * unconfirmed then fail with KMQ_ERR_CLOSED and close rejects with the
   * flush's error, "close: ..." (its `report` says what became of the
   * messages). Sends are refused (KMQ_ERR_CLOSED) from the call on.
   */
  close(options?: TimeoutOptions): Promise<CloseReport>;
  /** Closes on `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The counters (after close: as they were then). */
  stats(): ProducerStats;
  /** Each connection's counters (`connections` per node); throws after close. */
  connectionStats(): ConnectionStats[];
}

export declare class Consumer extends Client<ConsumerStatsJson> {
  /** Connects (off the event loop) and completes the handshake. */
  static connect(options: ConsumerOptions): Promise<Consumer>;
  protected constructor();
  /** True once closed, by close() or because the connection is lost for good. */
  readonly closed: boolean;
  /** The next message, or null when none came within `timeout` ms. */
  receive(options?: TimeoutOptions): Promise<Message | null>;
  /** Tells the server the message was handled; does not block. */
  ack(message: Message | string): void;
  /** Closes off the event loop; a waiting receive() rejects with KMQ_ERR_CLOSED at once. */
  close(): Promise<void>;
  /**
   * Stops taking pushes, waits (up to `timeout` ms) until every buffered message was
   * received and every one handed out acked, then closes; receive() and ack() go on meanwhile.
   */
  drain(options?: TimeoutOptions): Promise<DrainReport>;
  /**
   * Hands each message to `handler`, at most `concurrency` at once, and acks it when the
   * handler settles (throw `new Retry(s)` to have it sent again with a delay); runs until
   * `signal` aborts, then drains and resolves to the drain's report.
   */
  run(
    handler: (message: Message) => unknown,
    options?: { concurrency?: number; signal?: AbortSignal },
  ): Promise<DrainReport>;
  /** Closes on `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The counters (after close: as they were then). */
  stats(): ConsumerStats;
  /** Yields messages until the consumer is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined>;
}

/** A producer over every live node of a Serena registry (registry* options). */
export declare class ClusterProducer extends Producer {
  static connect(options: ProducerOptions): Promise<ClusterProducer>;
}

/** A consumer over every live node of a Serena registry (registry* options). */
export declare class ClusterConsumer extends Consumer {
  static connect(options: ConsumerOptions): Promise<ClusterConsumer>;
}

/** The node a Console talks to: the config keys in camelCase. */
export interface ConsoleOptions {
  /** MQ node host; default '127.0.0.1'. */
  mqAddr?: string;
  /** MQ node port (its HTTP API shares the port); default 8011. */
  mqPort?: number | string;
  /** 'ws' (default; the API is then http) or 'wss' (https). */
  mqProtocol?: 'ws' | 'wss';
  /** The node's secret key; default 'test'. */
  secretKey?: string;
  /** The limit of each call, ms; default 5000. */
  connectTimeoutMs?: number | string;
  tlsCaFile?: string;
  tlsVerify?: boolean | string;
  tlsPinSha256?: string;
}

/** A message as the node stores it (console answers use the node's field names). */
export interface StoredMessage {
  /** 32 hex digits. */
  MessageCode: string;
  /** The payload; '' in listMessages() answers. */
  MessageData: string;
  Topic: string;
  /** Unix seconds. */
  CreateTime: number;
  /** Unix seconds; 0 when not yet consumed. */
  ConsumedTime: number;
  /** Seconds. */
  DelayTime: number;
  /** -1 waiting, 0 delayed, 1 consumed. */
  Status: number;
}

export interface ConsumerInfo {
  ConsumerId: string;
  Topic: string;
  ConsumerIp: string;
  /** Unix seconds. */
  JoinTime: number;
}

export interface ProducerInfo {
  ProducerId: string;
  Topic: string;
  ProducerIp: string;
  /** Unix seconds. */
  JoinTime: number;
}

export interface NodeInfo {
  Name: string;
  Addr: string;
  Port: string;
}

export interface MessageCounts {
  all: number;
  consumed: number;
  delay: number;
  unconsumed: number;
}

export interface ListMessagesOptions {
  /** -1 waiting, 0 delayed, 1 consumed, 3 all (the default). */
  status?: -1 | 0 | 1 | 3;
  /** Only this topic; '' (the default): every topic. */
  topic?: string;
}

/**
 * A client of one node's HTTP API. Each call is one HTTP request, made off
 * the event loop, that fails with KMQ_ERR_CONNECT after connectTimeoutMs;
 * KMQ_ERR_AUTH when the key is rejected, KMQ_ERR_PROTOCOL when the node
 * refuses the request.
 */
export declare class Console {
  /** Makes the client; no I/O happens until the first call. */
  static create(options?: ConsoleOptions): Console;
  private constructor();
  /** True once close() was called. */
  readonly closed: boolean;
  /** Sends one message over HTTP; resolves with its message code once stored. */
  send(topic: string, data: string | Uint8Array, options?: SendOptions): Promise<string>;
  /** Resolves when the node answers. */
  ping(): Promise<void>;
  /** The connected clients ([] when none). */
  clients(): Promise<{ consumers: ConsumerInfo[]; producers: ProducerInfo[] }>;
  /** The node's settings. */
  serverConfig(): Promise<Record<string, unknown>>;
  count(): Promise<MessageCounts>;
  /** The stored message, or null when the node has none. */
  getMessage(code: string): Promise<StoredMessage | null>;
  /**
   * Messages created between `start` and `end` (Dates, or the node's local
   * time as 'YYYY-MM-DD hh:mm:ss'), newest first, without their data.
   */
  listMessages(start: Date | string, end: Date | string, options?: ListMessagesOptions): Promise<StoredMessage[]>;
  /** Deletes the stored message (an unknown code is no error). */
  deleteMessage(code: string): Promise<void>;
  /** The node's view of its cluster, or null when it is not in cluster mode. */
  nodes(): Promise<NodeInfo[] | null>;
  /** Frees the client once calls in flight have returned; later calls reject with KMQ_ERR_CLOSED. */
  close(): Promise<void>;
  /** Closes on `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogOptions {
  /** The most verbose level passed on; default 'info'. */
  level?: LogLevel;
}

/**
 * Emits 'log' (level, message) for each message of the library up to
 * `level`. The library's callback is installed with the first 'log'
 * listener and removed with the last; it never keeps the process alive.
 */
export declare class Logger extends EventEmitter {
  private constructor();
  /** The most verbose level passed on, shared with setLogger(); default 'info'. */
  level: LogLevel;
  on(event: 'log', listener: (level: LogLevel, message: string) => void): this;
  once(event: 'log', listener: (level: LogLevel, message: string) => void): this;
  off(event: 'log', listener: (level: LogLevel, message: string) => void): this;
}

/** The library's log messages; nothing is logged while it has no 'log' listener. */
export declare const logger: Logger;

/**
 * Sends the library's log messages (connections lost, reconnects, messages
 * given up on) up to `options.level` to `fn`, replacing the function of an
 * earlier call; null stops. Nothing is logged by default.
 */
export declare function setLogger(fn: ((level: LogLevel, message: string) => void) | null, options?: LogOptions): void;

/**
 * A Prometheus page (text exposition format 0.0.4) of `clients`, or of
 * every client of the process not yet closed when none are given; serve it
 * with content type 'text/plain; version=0.0.4'. A closed client given
 * throws KMQ_ERR_CLOSED.
 */
export declare function prometheusText(clients?: Iterable<Producer | Consumer>): string;

/** The C library's version, "MAJOR.MINOR.PATCH". */
export declare function version(): string;

/** The path of the loaded C library. */
export declare function libraryPath(): string;
