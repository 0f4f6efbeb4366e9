//go:build kmqack

// The Go client's API with acknowledgements: ProducerAck reads the next
// "ok" of that producer, ConsumeAck acks a received message. run.sh picks
// this file (build tag kmqack) when `go doc` finds ProducerAck.
package main

import (
	"github.com/dpwgc/kapokmq-go-client/conf"
	"github.com/dpwgc/kapokmq-go-client/conn"
)

const hasAck = true

func (s server) connectProducer(id string) error {
	return conn.NewProducerConn(conf.Producer{MqAddr: s.host, MqPort: s.port, MqProtocol: "ws",
		Topic: s.topic, ProducerId: id, SecretKey: s.key, CheckTime: 3600})
}

func (s server) connectConsumer(id string) error {
	return conn.NewConsumerConn(conf.Consumer{MqAddr: s.host, MqPort: s.port, MqProtocol: "ws",
		Topic: s.topic, ConsumerId: id, SecretKey: s.key, CheckTime: 3600})
}

func send(id, data string) bool { return conn.ProducerSend(id, data, 0) }

func confirm(id string) bool { return conn.ProducerAck(id) }

func receive(id string) string { return conn.ConsumerReceive(id).MessageCode }

func ack(id, code string) { conn.ConsumeAck(id, code) }
