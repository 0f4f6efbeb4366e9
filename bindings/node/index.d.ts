// Types for kapokmq, the KapokMQ client for Node.js.

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
}

export interface ProducerOptions extends CommonOptions {
  /** Producer id (required). */
  producerId: string;
  /** A message not confirmed within this many ms fails with KMQ_ERR_TIMEOUT; default 30000. */
  messageTimeoutMs?: number | string;
  /** Unconfirmed messages held before send() fails with KMQ_ERR_QUEUE_FULL; default 1000000. */
  queueMax?: number | string;
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

export interface ProducerStats {
  /** Messages accepted by send(). */
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

export declare class Producer {
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
  /** Resolves once every message sent before the call is confirmed. */
  flush(options?: TimeoutOptions): Promise<void>;
  /** Closes; unconfirmed messages fail with KMQ_ERR_CLOSED (flush() first). */
  close(): void;
  stats(): ProducerStats;
}

export declare class Consumer {
  /** Connects (off the event loop) and completes the handshake. */
  static connect(options: ConsumerOptions): Promise<Consumer>;
  protected constructor();
  /** True once closed, by close() or because the connection is lost for good. */
  readonly closed: boolean;
  /** The next message, or null when none came within `timeout` ms. */
  receive(options?: TimeoutOptions): Promise<Message | null>;
  /** Tells the server the message was handled; does not block. */
  ack(message: Message | string): void;
  /** Closes; a waiting receive() rejects with KMQ_ERR_CLOSED. */
  close(): void;
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

/** The C library's version, "MAJOR.MINOR.PATCH". */
export declare function version(): string;

/** The path of the loaded C library. */
export declare function libraryPath(): string;
