// wsreplay adapter for github.com/coder/websocket (formerly
// nhooyr.io/websocket): websocket.Dial, then a Conn.Read loop, as an
// application writes it. The contract plumbing (jobs, observations) is in
// contract.go; this file is what is particular to the library. For
// versions before v1.8.12 the installer builds it with the import path
// "github.com/coder/websocket" replaced by "nhooyr.io/websocket" (the same
// library under its old name). See README.md for the choices and why.

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

const (
	adapterName   = "go-coder"
	libraryModule = "github.com/coder/websocket"
	apiName       = "websocket.Dial, Conn.Read, Conn.Write, Conn.Close"
	// closeFirstCall: the call the application's close makes (in a
	// goroutine of its own: see startClose).
	closeFirstCall = "Conn.Close"

	// writeTimeout bounds each Write (a context deadline, as the library
	// wants; on expiry it closes the connection).
	writeTimeout = 5 * time.Second
)

// libraryUnsupported: the library has no API to send a ping with a chosen
// payload (Conn.Ping sends its own and waits for the pong); it makes only
// the compression offers of its two modes (none before v1.8.0).
func libraryUnsupported(k *knobs) []string {
	var out []string
	if _, ok := k.compression.plan(true, coderOffers()); !ok {
		out = append(out, "compression")
	}
	for _, item := range k.send {
		if item.kind == "ping" {
			return append(out, "send")
		}
	}
	return out
}

// coderOffers: the permessage-deflate offers the library can make, one per
// DialOptions.CompressionMode (v1.8.0+), the first being what "on" picks:
// CompressionNoContextTakeover ("permessage-deflate;
// client_no_context_takeover; server_no_context_takeover"; the default mode
// of v1.8.0-v1.8.7), then CompressionContextTakeover ("permessage-deflate").
// The library has no window-bits option. Before v1.8.0: no compression.
func coderOffers() []deflateOffer {
	if !compressionMode(&websocket.DialOptions{}).IsValid() {
		return nil
	}
	return []deflateOffer{
		{"client_no_context_takeover": true, "server_no_context_takeover": true},
		{},
	}
}

// compressionMode: the options' CompressionMode field, or an invalid Value
// for a version without one (reflection lets one source build against
// every version).
func compressionMode(o *websocket.DialOptions) reflect.Value {
	return reflect.ValueOf(o).Elem().FieldByName("CompressionMode")
}

// compressionModes: the values of CompressionDisabled,
// CompressionContextTakeover and CompressionNoContextTakeover in this
// version (constants a version before v1.8.0 lacks, so not named here).
// v1.8.0-v1.8.7 declare NoContextTakeover (= 0, the default),
// ContextTakeover, Disabled; v1.8.8 reversed them, making Disabled the
// default (compress.go).
func compressionModes() (disabled, contextTakeover, noContextTakeover int64) {
	if versionBefore(libraryVersion(), 1, 8, 8) {
		return 2, 1, 0
	}
	return 0, 1, 2
}

// versionBefore: v (vMAJOR.MINOR.PATCH[-…]) precedes major.minor.patch;
// false for a version it cannot read (a local checkout: the newest rules).
func versionBefore(v string, major, minor, patch int) bool {
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	want := []int{major, minor, patch}
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil {
			return false
		}
		if n != want[i] {
			return n < want[i]
		}
	}
	return false
}

// setCompression applies the compression knob to the options: "off" is
// CompressionDisabled (v1.8.0-v1.8.7 offer by default); "on" and an offer
// set the mode that makes it; "default" leaves the library's default.
func setCompression(o *websocket.DialOptions, c compression) {
	plan, _ := c.plan(true, coderOffers())
	field := compressionMode(o)
	if plan == planDefault || !field.IsValid() {
		return // before v1.8.0 nothing offers: "off" is the default
	}
	disabled, contextTakeover, noContextTakeover := compressionModes()
	switch plan {
	case planNoOffer:
		field.SetInt(disabled)
	case 0:
		field.SetInt(noContextTakeover)
	default:
		field.SetInt(contextTakeover)
	}
}

type coderJob struct {
	rec  *recorder
	job  *job
	conn *websocket.Conn

	rawMu sync.Mutex
	raw   net.Conn // the TCP connection, to cut a close that would outlast the deadline

	closeOnce     sync.Once
	closing       sync.WaitGroup // a Close call in progress
	closeMu       sync.Mutex
	closeErr      error // what Close returned
	closeReturned bool
}

func runJob(rec *recorder, j *job) error {
	c := &coderJob{rec: rec, job: j}
	config, err := tlsFor(j)
	if err != nil {
		return err
	}
	transport := &http.Transport{
		// No proxy from the environment: the scenario server is reached
		// directly. The dialer only remembers the TCP connection.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				c.rawMu.Lock()
				c.raw = conn
				c.rawMu.Unlock()
			}
			return conn, err
		},
		TLSClientConfig: config,
	}
	defer transport.CloseIdleConnections()
	options := &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: transport},
		Subprotocols: j.knobs.subprotocols,
	}
	setCompression(options, j.knobs.compression)

	rec.start()
	// The context bounds the opening handshake only, as the library
	// documents; everything else keeps its defaults (compression unless
	// the knob sets it, the 32 KiB read limit).
	ctx, cancel := context.WithTimeout(context.Background(), openTimeoutFor(j))
	conn, resp, err := dial(ctx, j.url, options)
	timedOut := ctx.Err() != nil
	cancel()
	if err != nil {
		rec.connectEnded(err, resp, timedOut)
		return nil
	}
	c.conn = conn
	converse(rec, j, c, conn.Subprotocol())
	return nil
}

// dial calls websocket.Dial, which takes *DialOptions from v1.5.0 and a
// DialOptions value before; reflection lets one source build against both.
func dial(ctx context.Context, url string, options *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	f := reflect.ValueOf(websocket.Dial)
	opts := reflect.ValueOf(options)
	if f.Type().In(2).Kind() != reflect.Pointer {
		opts = opts.Elem()
	}
	out := f.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(url), opts})
	conn, _ := out[0].Interface().(*websocket.Conn)
	resp, _ := out[1].Interface().(*http.Response)
	err, _ := out[2].Interface().(error)
	return conn, resp, err
}

// closeError: the CloseError in err's chain, as websocket.CloseStatus
// (v1.7.0+) finds it; errors.As works the same for every version.
func closeError(err error) (websocket.CloseError, bool) {
	var ce websocket.CloseError
	ok := err != nil && errors.As(err, &ce)
	return ce, ok
}

// send: one item of the send knob (never a ping: see libraryUnsupported).
func (c *coderJob) send(item sendItem) error {
	return c.write(item.kind, item.data)
}

func (c *coderJob) echo(kind string, data []byte) error {
	return c.write(kind, data)
}

// write sends one data message ("text" or "binary") within writeTimeout.
func (c *coderJob) write(kind string, data []byte) error {
	typ := websocket.MessageText
	if kind == "binary" {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.conn.Write(ctx, typ, data)
}

// closeFirst: the application's close (close_first), with Conn.Close.
func (c *coderJob) closeFirst() {
	c.startClose("close_first")
}

// startClose calls Conn.Close once, in its own goroutine: Close performs the
// whole closing handshake (write the close frame, wait up to 5 s for the
// server's) and blocks meanwhile, while the contract wants the application
// to go on receiving. The close frame the server answers with is read by
// whichever is reading: the adapter's Read, or Close itself (which then
// discards data messages, as its documentation says).
func (c *coderJob) startClose(by string) {
	code, reason := websocket.StatusNormalClosure, ""
	shown := any(int(code))
	if cf := c.job.knobs.closeFirst; by == "close_first" {
		reason = cf.reason
		if cf.code != nil {
			code = websocket.StatusCode(*cf.code)
			shown = *cf.code
		} else {
			// No code: the library's own value for "none", which it sends
			// as an empty close frame.
			code, shown = websocket.StatusNoStatusRcvd, nil
		}
	}
	why := "end"
	if by == "close_first" {
		why = "knob"
	}
	c.closeWith([]any{"by", by, "why", why, "api", "Conn.Close", "code", shown, "reason", reason}, func() error {
		return c.conn.Close(code, reason)
	})
}

// abandon is the application's error path: it returns the error and its
// deferred cleanup drops the connection. The library's README shows that
// cleanup as "defer c.CloseNow()" from v1.8.11 on, where CloseNow exists,
// and as "defer c.Close(websocket.StatusInternalError, ...)" before.
func (c *coderJob) abandon() {
	if now, ok := any(c.conn).(interface{ CloseNow() error }); ok {
		c.closeWith([]any{"by", "adapter", "why", "end", "api", "Conn.CloseNow"}, now.CloseNow)
		return
	}
	code := websocket.StatusInternalError
	c.closeWith([]any{"by", "adapter", "why", "end", "api", "Conn.Close", "code", int(code), "reason", ""}, func() error {
		return c.conn.Close(code, "")
	})
}

// closeWith runs the first close call of the job in a goroutine and records
// what it returned; later calls do nothing (the library allows one close).
func (c *coderJob) closeWith(fields []any, call func() error) {
	c.closeOnce.Do(func() {
		c.rec.event("close_call", fields...)
		c.closing.Add(1)
		api := ""
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "api" {
				api = fmt.Sprint(fields[i+1])
			}
		}
		guard(c.rec, "the adapter's close goroutine, in "+api, func() {
			defer c.closing.Done()
			err := call()
			c.closeMu.Lock()
			c.closeErr, c.closeReturned = err, true
			c.closeMu.Unlock()
			if err != nil {
				c.rec.event("close_returned", "type", meaningfulType(err), "message", err.Error())
			} else {
				c.rec.event("close_returned")
			}
		})
	})
}

// read: one Conn.Read. recv_timeout_ms is a context deadline on Read, as an
// application bounds a read; when it expires the library fails the
// connection. This library handles control frames only inside a Read (or
// Close, CloseRead).
func (c *coderJob) read(timeout time.Duration) (string, []byte, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	kind, data, err := c.conn.Read(ctx)
	timedOut := ctx.Err() != nil
	cancel()
	if err != nil {
		return "", nil, c.readEnded(err, timedOut)
	}
	if kind == websocket.MessageText {
		return "text", data, ""
	}
	return "binary", data, ""
}

// readEnded classifies the error that ended Read. A CloseError (found as
// websocket.CloseStatus finds it, as the library documents) is its
// "connection closed" signal and carries the code and reason: a clean
// closure. Anything else, including a connection that ended without a
// close frame, is an error: the library then has no close code to tell
// (CloseStatus says -1), so the close is reported "observable": false.
func (c *coderJob) readEnded(err error, timedOut bool) string {
	ce, isClose := closeError(err)
	switch {
	case isClose:
		c.rec.setClose(int(ce.Code), ce.Reason)
		c.rec.setClean(boolPtr(true), "websocket.CloseError from Read (CloseStatus(err) != -1)")
		c.rec.event("closed", "code", int(ce.Code))
		c.rec.end("closed", err)
		return "closed"
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		c.rec.event("timeout")
		c.rec.end("timeout", err)
		return "timeout"
	default:
		c.rec.setCloseUnobservable()
		c.rec.setClean(boolPtr(false), "an error other than websocket.CloseError from Read (CloseStatus(err) == -1)")
		c.rec.event("error", "type", meaningfulType(err), "message", err.Error())
		c.rec.end("error", err)
		return "error"
	}
}

// finalClose: once receiving ended normally (a close, max_messages) the
// application calls Close(StatusNormalClosure, "") (a no-op returning an
// error when the library already closed); after an error or a timeout it
// takes its error path (abandon). A close_first call still under way is
// waited for instead. Close waits for the server's close frame by itself
// (5 s), which may outlast the job's deadline: then the TCP connection is
// cut.
func (c *coderJob) finalClose(ended string) {
	source := "none"
	if ended == "closed" {
		source = "CloseStatus(err) of Read"
	}
	if ended == "closed" || ended == "max_messages" {
		c.startClose("adapter")
	} else {
		c.abandon()
	}
	done := make(chan struct{})
	go func() {
		c.closing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(c.rec.budget(c.job)):
		c.rec.event("close_timeout")
		c.rawMu.Lock()
		if c.raw != nil {
			c.raw.Close()
		}
		c.rawMu.Unlock()
		select {
		case <-done:
		case <-time.After(deadlineMargin / 2):
		}
	}
	// After the adapter's own close, the server's close code is known only
	// from the error Close returns (a CloseError when it differs from ours).
	c.closeMu.Lock()
	err, returned := c.closeErr, c.closeReturned
	c.closeMu.Unlock()
	if ce, ok := closeError(err); ok && !c.rec.hasClose() {
		c.rec.setClose(int(ce.Code), ce.Reason)
		source = "CloseStatus(err) of Close"
	}
	if !c.rec.hasClean() {
		switch {
		case ended != "max_messages":
			// timeout: the read's context expired and the library failed
			// the connection itself; the closure is no longer reported.
			c.rec.setClean(nil, "none: the application stopped reading ("+ended+") before the library reported a closure")
		case !returned:
			c.rec.setClean(nil, "none: Conn.Close had not returned when the job ended")
		case err == nil:
			c.rec.setClean(boolPtr(true), "Conn.Close returned nil (the closing handshake completed)")
			if !c.rec.hasClose() {
				// Close returns nil, not the server's close code: on this
				// path the API has no way to tell it.
				c.rec.setCloseUnobservable()
				source = "none: Conn.Close returned nil (the API exposes no close code on this path)"
			}
		default:
			_, isClose := closeError(err)
			c.rec.setClean(boolPtr(isClose), "the error Conn.Close returned (a CloseError is clean)")
		}
	}
	c.rec.event("close_done", "source", source)
}
