//go:build kmqack

// The Go client's API with acknowledgements: ProducerAck reads the next
// "ok" of that producer, ConsumeAck acks a received message. run.sh picks
// this file (build tag kmqack) when `go doc` finds ProducerAck.
package main

import "github.com/dpwgc/kapokmq-go-client/conn"

const hasAck = true

func confirm(id string) bool { return conn.ProducerAck(id) }

func ack(id, code string) { conn.ConsumeAck(id, code) }
