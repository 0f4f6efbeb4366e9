//go:build !kmqack

// The Go client's API without acknowledgements (as documented in its
// README): ProducerSend reports only whether the frame was written, and the
// consumer never acks.
package main

const hasAck = false

func confirm(string) bool { return false }

func ack(string, string) {}
