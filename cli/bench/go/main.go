// The Go side of `kmq bench`: the official KapokMQ Go client measured on
// the same broker as kapokmq. Built by cli/bench/run.sh at run time.
//
//	bench confirmed HOST PORT TOPIC N PAYLOAD KEY   send + ack loop, every message confirmed
//	bench fire      HOST PORT TOPIC N PAYLOAD KEY   sends only, nothing confirmed
//	bench e2e       HOST PORT TOPIC N PAYLOAD KEY   produce -> consume (-> ack)
//
// Prints one "RESULT key=value ..." line for kmq bench to parse (cpu_secs:
// the CPU this process used while timed, start-up left out). The client
// writes its own log lines to stdout too; kmq bench reads only RESULT.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// cpuSecs is the CPU time this process has used (every thread, user and system).
func cpuSecs() float64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

func main() {
	if len(os.Args) != 8 {
		fmt.Fprintln(os.Stderr, "usage: bench confirmed|fire|e2e HOST PORT TOPIC N PAYLOAD KEY")
		os.Exit(2)
	}
	mode, host, port, topic, payload, key := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[6], os.Args[7]
	n, err := strconv.Atoi(os.Args[5])
	if err != nil || n <= 0 {
		die("N must be a positive number, not %q", os.Args[5])
	}
	server := server{host: host, port: port, topic: topic, key: key}

	switch mode {
	case "confirmed", "fire":
		if mode == "confirmed" && !hasAck {
			die("this version of the Go client has no ProducerAck")
		}
		if err := server.connectProducer("go-bench-p"); err != nil {
			die("connect: %v", err)
		}
		if mode == "fire" {
			drainAcks("go-bench-p")
		}
		cpu0 := cpuSecs()
		start := time.Now()
		done := 0
		for i := 0; i < n; i++ {
			if !send("go-bench-p", payload) {
				continue
			}
			if mode == "confirmed" && !confirm("go-bench-p") {
				continue
			}
			done++
		}
		secs := time.Since(start).Seconds()
		if mode == "fire" {
			// The rate counts writes; the CPU also what reading their oks costs.
			waitAcks(done)
		}
		fmt.Printf("RESULT secs=%.6f count=%d cpu_secs=%.6f\n", secs, done, cpuSecs()-cpu0)

	case "e2e":
		if err := server.connectConsumer("go-bench-c"); err != nil {
			die("connect consumer: %v", err)
		}
		if err := server.connectProducer("go-bench-p"); err != nil {
			die("connect producer: %v", err)
		}
		// The producer at its fastest: sends back to back, "ok"s drained
		// apart (waiting for each would cap it at the send+ack rate).
		drainAcks("go-bench-p")
		cpu0 := cpuSecs()
		start := time.Now()
		go func() {
			for i := 0; i < n; i++ {
				send("go-bench-p", payload)
			}
		}()
		for i := 0; i < n; i++ {
			code := receive("go-bench-c")
			ack("go-bench-c", code)
		}
		secs := time.Since(start).Seconds()
		waitAcks(n)
		acked := 0
		if hasAck {
			acked = 1
		}
		fmt.Printf("RESULT secs=%.6f count=%d acked=%d cpu_secs=%.6f\n", secs, n, acked, cpuSecs()-cpu0)

	default:
		die("unknown mode %q", mode)
	}
}

type server struct{ host, port, topic, key string }

// drainAcks reads a producer's "ok"s on a goroutine of its own. The client's
// reader hands each one to an unbuffered channel: left unread, it stops
// reading the socket and the node stops taking messages.
func drainAcks(id string) {
	if !hasAck {
		return
	}
	go func() {
		for {
			if confirm(id) {
				drained.Add(1)
			}
		}
	}()
}

// drained counts the "ok"s drainAcks has read.
var drained atomic.Int64

// waitAcks waits (at most 30 s) until drainAcks has read n "ok"s, so that
// the CPU measured includes reading them, as it does for kapokmq.
func waitAcks(n int) {
	if !hasAck {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for drained.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
