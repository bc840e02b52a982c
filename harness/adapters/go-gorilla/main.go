// wsreplay adapter for github.com/gorilla/websocket: Dialer.Dial, then a
// Conn.ReadMessage loop, as an application writes it. The contract
// plumbing (jobs, observations) is in contract.go; this file is what is
// particular to gorilla. See README.md for the choices and their reasons.

package main

import (
	"errors"
	"net"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

const (
	adapterName   = "go-gorilla"
	libraryModule = "github.com/gorilla/websocket"
	apiName       = "websocket.Dialer.Dial, Conn.ReadMessage, Conn.WriteMessage, Conn.WriteControl"
	// closeFirstCall: the call the application's close makes.
	closeFirstCall = "Conn.WriteControl"

	// writeWait is the deadline for a control frame (gorilla's own
	// close handler uses one second; its examples use several).
	writeWait = 5 * time.Second
	// closeWait: after its own close frame, how long the application waits
	// for the server's, as gorilla's client example does ("select { case
	// <-done: case <-time.After(time.Second): }").
	closeWait = time.Second
)

// libraryUnsupported: gorilla has an API for every knob but some values of
// compression: it makes one offer only (Dialer.EnableCompression, v1.1.0+),
// and none before v1.1.0.
func libraryUnsupported(k *knobs) []string {
	if _, ok := k.compression.plan(true, gorillaOffers()); !ok {
		return []string{"compression"}
	}
	return nil
}

// gorillaOffers: the permessage-deflate offers gorilla can make. From
// v1.1.0 Dialer.EnableCompression sends the one it knows (client.go:
// "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover"); before it, none.
func gorillaOffers() []deflateOffer {
	if !enableCompression(&websocket.Dialer{}).IsValid() {
		return nil
	}
	return []deflateOffer{{"server_no_context_takeover": true, "client_no_context_takeover": true}}
}

// enableCompression: the dialer's EnableCompression field, or an invalid
// Value for a version without one (reflection lets one source build
// against every version).
func enableCompression(d *websocket.Dialer) reflect.Value {
	return reflect.ValueOf(d).Elem().FieldByName("EnableCompression")
}

type gorillaJob struct {
	rec       *recorder
	job       *job
	conn      *websocket.Conn
	closeSent atomic.Bool // a close frame went out (close_first or the final close)
}

func runJob(rec *recorder, j *job) error {
	config, err := tlsFor(j)
	if err != nil {
		return err
	}
	dialer := websocket.Dialer{
		// No proxy from the environment: the scenario server is reached
		// directly. Buffer sizes, compression (off unless the knob asks)
		// and the rest keep the library defaults. The handshake timeout is
		// the adapter's own open timeout (cut to fit the job's deadline).
		Proxy:            nil,
		HandshakeTimeout: openTimeoutFor(j),
		Subprotocols:     j.knobs.subprotocols,
		TLSClientConfig:  config,
	}
	// compression: "off" is gorilla's default (EnableCompression false);
	// "on" or an offer it can make (libraryUnsupported checked) turns it on.
	if plan, _ := j.knobs.compression.plan(true, gorillaOffers()); plan >= 0 {
		enableCompression(&dialer).SetBool(true)
	}

	rec.start()
	conn, resp, err := dialer.Dial(j.url, nil)
	if err != nil {
		// HandshakeTimeout expired: the adapter's timeout cut the
		// handshake off; gorilla neither connected nor refused.
		var ne net.Error
		rec.connectEnded(err, resp, errors.As(err, &ne) && ne.Timeout())
		return nil
	}
	converse(rec, j, &gorillaJob{rec: rec, job: j, conn: conn}, conn.Subprotocol())
	return nil
}

// send: one item of the send knob; a ping with WriteControl.
func (g *gorillaJob) send(item sendItem) error {
	switch item.kind {
	case "ping":
		return g.conn.WriteControl(websocket.PingMessage, item.data, time.Now().Add(writeWait))
	default:
		return g.conn.WriteMessage(messageType(item.kind), item.data)
	}
}

// messageType: gorilla's message type for a kind ("text" or "binary").
func messageType(kind string) int {
	if kind == "text" {
		return websocket.TextMessage
	}
	return websocket.BinaryMessage
}

func (g *gorillaJob) echo(kind string, data []byte) error {
	return g.conn.WriteMessage(messageType(kind), data)
}

// closeFirst: the application closes first, with gorilla's API for it,
// WriteControl(CloseMessage, ...); it then goes on reading until the
// library reports the end. No code: an empty close frame. On the
// close_first timer's goroutine it runs while ReadMessage waits, which
// gorilla allows for WriteControl.
func (g *gorillaJob) closeFirst() {
	cf := g.job.knobs.closeFirst
	if g.closeSent.Swap(true) {
		return
	}
	payload := []byte{}
	fields := []any{"by", "close_first", "why", "knob", "api", "Conn.WriteControl(CloseMessage)"}
	if cf.code != nil {
		payload = websocket.FormatCloseMessage(*cf.code, cf.reason)
		fields = append(fields, "code", *cf.code, "reason", cf.reason)
	} else {
		fields = append(fields, "code", nil)
	}
	g.rec.event("close_call", fields...)
	if err := g.conn.WriteControl(websocket.CloseMessage, payload, time.Now().Add(writeWait)); err != nil {
		g.rec.event("close_error", "type", meaningfulType(err), "message", err.Error())
	}
}

// read: one ReadMessage, bounded by a read deadline, which is how a gorilla
// application bounds a read. After it expires the connection is unusable
// (gorilla's documented rule). gorilla handles control frames (and answers
// pings and closes) only inside ReadMessage/NextReader.
func (g *gorillaJob) read(timeout time.Duration) (string, []byte, string) {
	g.conn.SetReadDeadline(time.Now().Add(timeout))
	kind, data, err := g.conn.ReadMessage()
	if err != nil {
		return "", nil, g.readEnded(err)
	}
	if kind == websocket.TextMessage {
		return "text", data, ""
	}
	return "binary", data, ""
}

// readEnded classifies the error that ended ReadMessage. A *CloseError is
// the library's "connection closed" signal (a received close frame, or
// 1006 for a connection that ended without one); it carries the code and
// text the application sees. Any other error (a protocol error gorilla
// failed the connection for, a reset) carries no close code: on that path
// the API exposes none (close "observable": false).
func (g *gorillaJob) readEnded(err error) string {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		g.rec.setClose(ce.Code, ce.Text)
		g.recordClean(ce, "ReadMessage")
		g.rec.event("closed", "code", ce.Code)
		g.rec.end("closed", err)
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		g.rec.event("timeout")
		g.rec.end("timeout", nil)
		return "timeout"
	default:
		g.rec.setCloseUnobservable()
		g.rec.setClean(boolPtr(false), "an error other than *websocket.CloseError from ReadMessage")
		g.rec.event("error", "type", meaningfulType(err), "message", err.Error())
		g.rec.end("error", err)
		return "error"
	}
}

// recordClean: how gorilla reported the closure. A *CloseError is its
// closure signal; code 1006 (CloseAbnormalClosure) is the one it makes up
// for a connection that ended without a close frame, its word for "not
// clean".
func (g *gorillaJob) recordClean(ce *websocket.CloseError, call string) {
	clean := ce.Code != websocket.CloseAbnormalClosure
	g.rec.setClean(&clean, "*websocket.CloseError from "+call+" (code 1006 = abnormal closure)")
}

// finalClose ends the connection as an application would once it stops
// receiving. After a CloseError gorilla's default close handler has already
// answered the server's close frame, and after a protocol error gorilla has
// sent its own close frame: Close() releases the socket. When the
// application itself gives up (timeout, max_messages) it sends close 1000
// first (unless it already sent one); after max_messages, when the
// connection can still be read, it waits up to closeWait for the server's
// close frame, like gorilla's client example.
func (g *gorillaJob) finalClose(ended string) {
	source := "none"
	if ended == "closed" {
		source = "CloseError from ReadMessage"
	}
	if (ended == "timeout" || ended == "max_messages") && !g.closeSent.Swap(true) {
		g.rec.event("close_call", "by", "adapter", "why", "end", "api", "Conn.WriteControl(CloseMessage)", "code", websocket.CloseNormalClosure, "reason", "")
		payload := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := g.conn.WriteControl(websocket.CloseMessage, payload, time.Now().Add(writeWait)); err != nil {
			g.rec.event("close_error", "type", meaningfulType(err), "message", err.Error())
		}
	}
	if ended == "max_messages" {
		wait := closeWait
		if b := g.rec.budget(g.job); b < wait {
			wait = b
		}
		g.conn.SetReadDeadline(time.Now().Add(wait))
		for {
			// Messages after max_messages are not reported: receiving stopped.
			_, _, err := g.conn.NextReader()
			if err == nil {
				continue
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				g.rec.setClose(ce.Code, ce.Text)
				g.recordClean(ce, "NextReader after the adapter's close")
				g.rec.event("closed", "code", ce.Code)
				source = "CloseError from NextReader after the adapter's close"
			} else {
				g.rec.event("close_timeout", "type", meaningfulType(err), "message", err.Error())
			}
			break
		}
	}
	g.rec.event("close_call", "by", "adapter", "why", "end", "api", "Conn.Close")
	if err := g.conn.Close(); err != nil {
		g.rec.event("close_error", "type", meaningfulType(err), "message", err.Error())
	}
	if !g.rec.hasClean() {
		// timeout: after its read deadline gorilla's connection is unusable
		// (its documented rule), so the closure can no longer be read.
		g.rec.setClean(nil, "none: the application stopped reading ("+ended+") before gorilla reported a closure")
	}
	g.rec.event("close_done", "source", source)
}
