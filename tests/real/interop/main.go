// The official KapokMQ Go client on one side of an interop check, kapokmq on
// the other (tests/real/interop.py drives both).
//
//	interop produce HOST PORT TOPIC KEY        payloads from stdin, one JSON string a line;
//	                                           each sent with ProducerSend and confirmed with ProducerAck
//	interop consume HOST PORT TOPIC KEY N SECS  receives N messages (acking each) and prints
//	                                           "DATA <JSON string>" per message, in arrival order
//
// The client prints its own log lines on stdout too; the driver reads only
// the lines this program writes with a prefix.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/dpwgc/kapokmq-go-client/conf"
	"github.com/dpwgc/kapokmq-go-client/conn"
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "interop: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 6 {
		die("usage: interop produce|consume HOST PORT TOPIC KEY [N SECS]")
	}
	mode, host, port, topic, key := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	switch mode {
	case "produce":
		err := conn.NewProducerConn(conf.Producer{MqAddr: host, MqPort: port, MqProtocol: "ws",
			Topic: topic, ProducerId: "go-interop-p", SecretKey: key, CheckTime: 3600})
		if err != nil {
			die("connect: %v", err)
		}
		in := bufio.NewScanner(os.Stdin)
		in.Buffer(make([]byte, 1<<20), 64<<20)
		sent := 0
		for in.Scan() {
			var data string
			if err := json.Unmarshal(in.Bytes(), &data); err != nil {
				die("payload line %d: %v", sent+1, err)
			}
			if !conn.ProducerSend("go-interop-p", data, 0) {
				die("ProducerSend of payload %d failed", sent+1)
			}
			if !conn.ProducerAck("go-interop-p") {
				die("payload %d not confirmed", sent+1)
			}
			sent++
		}
		fmt.Printf("SENT %d\n", sent)

	case "consume":
		if len(os.Args) != 8 {
			die("usage: interop consume HOST PORT TOPIC KEY N SECS")
		}
		n, _ := strconv.Atoi(os.Args[6])
		secs, _ := strconv.Atoi(os.Args[7])
		err := conn.NewConsumerConn(conf.Consumer{MqAddr: host, MqPort: port, MqProtocol: "ws",
			Topic: topic, ConsumerId: "go-interop-c", SecretKey: key, CheckTime: 3600})
		if err != nil {
			die("connect: %v", err)
		}
		fmt.Println("READY")
		// ConsumerReceive blocks without limit: the deadline is ours.
		go func() {
			time.Sleep(time.Duration(secs) * time.Second)
			die("received fewer than %d messages within %d s", n, secs)
		}()
		for i := 0; i < n; i++ {
			m := conn.ConsumerReceive("go-interop-c")
			line, _ := json.Marshal(m.MessageData)
			fmt.Printf("DATA %s\n", line)
			conn.ConsumeAck("go-interop-c", m.MessageCode)
		}
		// The ack of the last message is written by the client's goroutine.
		time.Sleep(200 * time.Millisecond)

	default:
		die("unknown mode %q", mode)
	}
}
