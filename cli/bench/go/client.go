// The Go client's calls that every version of it has: connecting, sending,
// receiving. client_ack.go and client_plain.go add what differs between
// versions (acknowledgements), chosen by run.sh with a build tag.
package main

import (
	"github.com/dpwgc/kapokmq-go-client/conf"
	"github.com/dpwgc/kapokmq-go-client/conn"
)

func (s server) connectProducer(id string) error {
	return conn.NewProducerConn(conf.Producer{MqAddr: s.host, MqPort: s.port, MqProtocol: "ws",
		Topic: s.topic, ProducerId: id, SecretKey: s.key, CheckTime: 3600})
}

func (s server) connectConsumer(id string) error {
	return conn.NewConsumerConn(conf.Consumer{MqAddr: s.host, MqPort: s.port, MqProtocol: "ws",
		Topic: s.topic, ConsumerId: id, SecretKey: s.key, CheckTime: 3600})
}

func send(id, data string) bool { return conn.ProducerSend(id, data, 0) }

func receive(id string) string { return conn.ConsumerReceive(id).MessageCode }
