//go:build !kmqack

// The Go client's API without acknowledgements (as documented in its
// README): ProducerSend reports only whether the frame was written, and the
// consumer never acks.
package main

import (
	"github.com/dpwgc/kapokmq-go-client/conf"
	"github.com/dpwgc/kapokmq-go-client/conn"
)

const hasAck = false

func (s server) connectProducer(id string) error {
	return conn.NewProducerConn(conf.Producer{MqAddr: s.host, MqPort: s.port, MqProtocol: "ws",
		Topic: s.topic, ProducerId: id, SecretKey: s.key, CheckTime: 3600})
}

func (s server) connectConsumer(id string) error {
	return conn.NewConsumerConn(conf.Consumer{MqAddr: s.host, MqPort: s.port, MqProtocol: "ws",
		Topic: s.topic, ConsumerId: id, SecretKey: s.key, CheckTime: 3600})
}

func send(id, data string) bool { return conn.ProducerSend(id, data, 0) }

func confirm(string) bool { return false }

func receive(id string) string { return conn.ConsumerReceive(id).MessageCode }

func ack(string, string) {}
