'use strict';

const { koffi } = require('./native');

/** One received message, copied out of the library (nothing native is kept). */
class Message {
  constructor(fields) {
    /** 32 hex digits; pass the message (or this) to ack(). */
    this.code = fields.code;
    /** The payload bytes. */
    this.data = fields.data;
    /** The payload decoded as UTF-8. */
    this.text = fields.data.toString('utf8');
    this.topic = fields.topic;
    /** Unix seconds when the server stored the message. */
    this.createTime = fields.createTime;
    /** Unix seconds when it was consumed, 0 when not yet. */
    this.consumedTime = fields.consumedTime;
    /** Delay in seconds (for a redelivery: seconds since it was created). */
    this.delayTime = fields.delayTime;
    /** The server's status: -1 waiting, 0 delayed, 1 consumed. */
    this.status = fields.status;
  }
}

/** Copies the kmq_message at `m` into a Message and frees it. */
function takeMessage(fns, m) {
  try {
    const len = new BigUint64Array(1);
    const dataPtr = fns.messageData(m, len);
    const n = Number(len[0]);
    // Copy (Buffer.from of a Uint8Array copies): the view dies with the message.
    const data = n > 0 && dataPtr ? Buffer.from(new Uint8Array(koffi.view(dataPtr, n))) : Buffer.alloc(0);
    return new Message({
      code: fns.messageCode(m),
      data,
      topic: fns.messageTopic(m),
      createTime: Number(fns.messageCreateTime(m)),
      consumedTime: Number(fns.messageConsumedTime(m)),
      delayTime: Number(fns.messageDelayTime(m)),
      status: fns.messageStatus(m),
    });
  } finally {
    fns.messageFree(m);
  }
}

module.exports = { Message, takeMessage };
