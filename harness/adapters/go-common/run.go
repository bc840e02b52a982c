// The application's behaviour once the connection is open, written once for
// every Go adapter: send, close_first, recv_delay_ms, the read loop, the
// adapter's own close. Each main.go supplies its library's calls as a
// connection; installers/go.py builds this file in beside it, like
// contract.go.

package main

import (
	"sync"
	"time"
)

// connection: the calls of one library on one open connection, as converse
// drives them.
type connection interface {
	// send sends one item of the send knob.
	send(item sendItem) error
	// read waits up to timeout for the next data message and returns its
	// kind ("text" or "binary") and bytes; or, when reading is over, how it
	// ended ("closed", "timeout" or "error"), having recorded the close,
	// clean, the end and its event.
	read(timeout time.Duration) (kind string, data []byte, ended string)
	// echo sends a received message back with the same kind.
	echo(kind string, data []byte) error
	// closeFirst is the application's close (the close_first knob). It may
	// run on the close_first timer's goroutine, while read waits.
	closeFirst()
	// finalClose ends the connection once receiving ended as ended says.
	finalClose(ended string)
}

// converse runs one job from the open connection to its end: the send knob;
// close_first right away (after_messages 0) or on a timer from open
// (after_ms); the read loop; the adapter's own close.
func converse(rec *recorder, j *job, c connection, subprotocol string) {
	k := &j.knobs
	rec.setConnected(subprotocol)
	openedAt := rec.sinceStart()

	sendAll(rec, k.send, c)
	// close_first after_ms: a timer from open, whatever has arrived by then.
	var timers sync.WaitGroup
	var timer *time.Timer
	if cf := k.closeFirst; cf != nil && cf.timed {
		timers.Add(1)
		timer = time.AfterFunc(cf.afterMs-(rec.sinceStart()-openedAt), func() {
			defer timers.Done()
			defer rec.recoverLibraryPanic("the close_first timer's goroutine, in " + closeFirstCall)
			c.closeFirst()
		})
	} else if cf != nil && cf.afterMessages == 0 {
		c.closeFirst()
	}

	ended := receive(rec, k, c)

	if timer != nil && timer.Stop() {
		timers.Done() // it never ran
	}
	timers.Wait()
	c.finalClose(ended)
}

// sendAll: the send knob, right after open, in order.
func sendAll(rec *recorder, items []sendItem, c connection) {
	for _, item := range items {
		if err := c.send(item); err != nil {
			rec.event("send_error", "kind", item.kind, "type", meaningfulType(err), "message", err.Error())
		} else {
			rec.event("send", "kind", item.kind, "length", len(item.data))
		}
	}
}

// receive is the application's read loop; it returns how it ended. Nothing
// reads during recv_delay_ms (nor during recv_pace_ms): the Go libraries
// handle control frames only inside a read, so nothing answers a ping or a
// close frame meanwhile either.
func receive(rec *recorder, k *knobs, c connection) string {
	if k.recvDelay > 0 {
		time.Sleep(k.recvDelay)
	}
	rec.event("recv_start")
	for {
		kind, data, ended := c.read(k.recvTimeout)
		if ended != "" {
			return ended
		}
		n := rec.message(kind, data)
		if n >= k.maxMessages {
			rec.event("max_messages")
			rec.end("max_messages", nil)
			return "max_messages"
		}
		if k.echo {
			if err := c.echo(kind, data); err != nil {
				rec.event("echo_error", "type", meaningfulType(err), "message", err.Error())
			} else {
				rec.event("echo", "type", kind)
			}
		}
		if cf := k.closeFirst; cf != nil && !cf.timed && cf.afterMessages == n {
			c.closeFirst()
		}
		if k.recvPace > 0 {
			time.Sleep(k.recvPace)
		}
	}
}
