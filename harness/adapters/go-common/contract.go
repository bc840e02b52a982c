// The wsreplay adapter contract (harness/adapters/README.md) in Go: jobs in,
// observations out. Every Go adapter (go-gorilla, go-coder) is built with
// this file beside its own main.go, which holds what is particular to one
// library (installers/go.py copies both in). Standard library only.

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	// inlineLimit: message content up to this many bytes is reported
	// inline, longer messages as a sha256 digest.
	inlineLimit = 4096
	// deadlineMargin is kept free before the job's deadline so the
	// observation still gets out.
	deadlineMargin = 500 * time.Millisecond
	// openTimeout bounds the opening handshake.
	openTimeout = 10 * time.Second
)

// ---------------------------------------------------------------------------
// job

// sendItem is one entry of the send knob.
type sendItem struct {
	kind string // "text", "binary" or "ping"
	data []byte
}

// closeFirst is the close_first knob: the application closes by itself.
type closeFirst struct {
	code          *int // nil: close with no code
	reason        string
	afterMessages int           // close after this many messages (0: right after open)
	afterMs       time.Duration // or this long after open
	timed         bool          // afterMs applies, not afterMessages
}

// knobs are a job's client knobs, all of them: the harness sends every
// knob of the contract, with the scenario language's defaults filled in
// (harness/wsreplay/scenarios.py); the adapter applies none of its own.
type knobs struct {
	recvDelay    time.Duration
	recvPace     time.Duration
	recvTimeout  time.Duration
	maxMessages  int
	echo         bool
	send         []sendItem
	closeFirst   *closeFirst
	subprotocols []string
	compression  compression
}

// compression is the compression knob: what the application asks of the
// library's permessage-deflate (harness/adapters/README.md).
type compression struct {
	// mode: "default" (leave the library's default), "off" (no offer),
	// "on" (the library's own offer) or "offer" (an offer with params).
	mode string
	// params, for mode "offer": each parameter asked for, as the knob
	// writes it (false: absent from the offer; true; or window bits).
	params map[string]any
}

// deflateOffer is one permessage-deflate offer a library can make: its
// parameters as the knob writes them (a flag as true, window bits as a
// number, client_max_window_bits without a value as true); a parameter
// not in the offer is absent.
type deflateOffer map[string]any

// Plans for the compression knob (see compression.plan): leave the
// library's default, or make no offer at all.
const (
	planDefault = -2
	planNoOffer = -1
)

// plan says what a library does for the compression knob: planDefault
// (touch nothing), planNoOffer ("off", if the library can make no offer),
// or the index in offers of the offer to make ("on": the first, the
// library's own; an object: the first offer that carries every parameter
// it gives, as given, parameters it does not give being the library's
// choice). ok is false when the library cannot honour the knob.
func (c compression) plan(canOmit bool, offers []deflateOffer) (plan int, ok bool) {
	switch c.mode {
	case "", "default":
		return planDefault, true
	case "off":
		return planNoOffer, canOmit
	case "on":
		return 0, len(offers) > 0
	}
	for i, offer := range offers {
		if c.matches(offer) {
			return i, true
		}
	}
	return 0, false
}

// matches: the offer carries every parameter the knob's object gives, as
// given (false: the offer leaves it out).
func (c compression) matches(offer deflateOffer) bool {
	for name, want := range c.params {
		got, in := offer[name]
		if want == false {
			if in && got != false {
				return false
			}
			continue
		}
		if !in || got != want {
			return false
		}
	}
	return true
}

// parseCompression reads the knob: a string ("default", "off", "on") or
// an object of offer parameters (booleans, or window bits).
func parseCompression(value json.RawMessage) (compression, error) {
	var mode string
	if err := json.Unmarshal(value, &mode); err == nil {
		switch mode {
		case "default", "off", "on":
			return compression{mode: mode}, nil
		}
		return compression{}, fmt.Errorf("unknown value %q", mode)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(value, &raw); err != nil {
		return compression{}, fmt.Errorf("want \"default\", \"off\", \"on\" or an object, got %s", value)
	}
	c := compression{mode: "offer", params: map[string]any{}}
	for name, v := range raw {
		var flag bool
		var bits int
		switch {
		case json.Unmarshal(v, &flag) == nil:
			c.params[name] = flag
		case json.Unmarshal(v, &bits) == nil:
			c.params[name] = bits
		default:
			return compression{}, fmt.Errorf("%s: want a boolean or window bits, got %s", name, v)
		}
	}
	return c, nil
}

// job is one parsed job line.
type job struct {
	id       json.RawMessage
	url      string
	caFile   string
	knobs    knobs
	deadline time.Duration // 0: none given
	// unsupported knobs: unknown to the contract, or beyond the library.
	unsupported []string
}

type badJob struct{ msg string }

func (e *badJob) Error() string { return "bad job: " + e.msg }

func badf(format string, args ...any) error {
	return &badJob{fmt.Sprintf(format, args...)}
}

// knobNames: the knobs of the contract, all in every job; any other knob
// with a value other than null or false is reported unsupported.
var knobNames = []string{
	"close_first", "echo", "max_messages", "recv_delay_ms", "recv_pace_ms",
	"recv_timeout_ms", "send", "subprotocols",
}

func parseJob(line []byte) (*job, error) {
	var raw struct {
		ID         json.RawMessage            `json:"id"`
		URL        string                     `json:"url"`
		Knobs      map[string]json.RawMessage `json:"knobs"`
		DeadlineMs float64                    `json:"deadline_ms"`
		CAFile     string                     `json:"ca_file"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return &job{}, badf("job line is not a JSON object: %v: %.200q", err, line)
	}
	j := &job{id: raw.ID, url: raw.URL, caFile: raw.CAFile}
	if j.url == "" {
		return j, badf("job has no 'url' string")
	}
	if raw.DeadlineMs > 0 {
		j.deadline = time.Duration(raw.DeadlineMs * float64(time.Millisecond))
	}
	for _, name := range knobNames {
		value, ok := raw.Knobs[name]
		if !ok {
			return j, badf("knob %s missing: the harness sends every knob", name)
		}
		if err := parseKnob(&j.knobs, name, value); err != nil {
			return j, badf("knob %s: %v", name, err)
		}
		delete(raw.Knobs, name)
	}
	// compression: a job from a server older than the knob has none; that
	// is the knob's default (leave the library as it is).
	if value, ok := raw.Knobs["compression"]; ok {
		if err := parseKnob(&j.knobs, "compression", value); err != nil {
			return j, badf("knob compression: %v", err)
		}
		delete(raw.Knobs, "compression")
	}
	for name, value := range raw.Knobs {
		if !isOff(value) {
			j.unsupported = append(j.unsupported, name)
		}
	}
	sort.Strings(j.unsupported)
	return j, nil
}

// isOff: null or false, the values an unknown knob may have.
func isOff(value json.RawMessage) bool {
	text := strings.TrimSpace(string(value))
	return text == "null" || text == "false" || text == ""
}

// parseKnob reads one knob into k. The values are the loader's, already
// checked (ranges, exclusive fields): only their form is read here.
func parseKnob(k *knobs, name string, value json.RawMessage) error {
	if isNull(value) {
		return nil // null: off (close_first: none)
	}
	switch name {
	case "recv_delay_ms", "recv_pace_ms", "recv_timeout_ms":
		var ms float64
		if err := json.Unmarshal(value, &ms); err != nil {
			return fmt.Errorf("want a number, got %s", value)
		}
		d := time.Duration(ms * float64(time.Millisecond))
		switch name {
		case "recv_delay_ms":
			k.recvDelay = d
		case "recv_pace_ms":
			k.recvPace = d
		default:
			k.recvTimeout = d
		}
	case "max_messages":
		if err := json.Unmarshal(value, &k.maxMessages); err != nil {
			return fmt.Errorf("want an integer, got %s", value)
		}
	case "echo":
		if err := json.Unmarshal(value, &k.echo); err != nil {
			return fmt.Errorf("want a boolean, got %s", value)
		}
	case "send":
		var items []map[string]string
		if err := json.Unmarshal(value, &items); err != nil {
			return fmt.Errorf("want a list of {\"text\"|\"hex\"|\"ping\": string}, got %s", value)
		}
		for i, item := range items {
			for kind, text := range item {
				switch kind {
				case "text", "ping":
					k.send = append(k.send, sendItem{kind, []byte(text)})
				case "hex":
					data, err := hex.DecodeString(strings.ReplaceAll(text, " ", ""))
					if err != nil {
						return fmt.Errorf("item %d: bad hex: %v", i, err)
					}
					k.send = append(k.send, sendItem{"binary", data})
				default:
					return fmt.Errorf("item %d: unknown kind %q", i, kind)
				}
			}
		}
	case "close_first":
		var cf struct {
			Code          *int     `json:"code"`
			Reason        string   `json:"reason"`
			AfterMessages int      `json:"after_messages"`
			AfterMs       *float64 `json:"after_ms"`
		}
		if err := json.Unmarshal(value, &cf); err != nil {
			return fmt.Errorf("want {code, reason, after_messages | after_ms}, got %s", value)
		}
		out := &closeFirst{code: cf.Code, reason: cf.Reason, afterMessages: cf.AfterMessages}
		if cf.AfterMs != nil {
			out.timed = true
			out.afterMs = time.Duration(*cf.AfterMs * float64(time.Millisecond))
		}
		k.closeFirst = out
	case "subprotocols":
		if err := json.Unmarshal(value, &k.subprotocols); err != nil {
			return fmt.Errorf("want a list of strings, got %s", value)
		}
	case "compression":
		c, err := parseCompression(value)
		if err != nil {
			return err
		}
		k.compression = c
	}
	return nil
}

func isNull(value json.RawMessage) bool {
	return strings.TrimSpace(string(value)) == "null"
}

// tlsConfig trusts exactly the run's CA (the job's ca_file), nothing else.
func tlsConfig(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool}, nil
}

// tlsFor: for a wss:// job, a TLS configuration that trusts exactly the
// job's CA; nil (the library's default) otherwise.
func tlsFor(j *job) (*tls.Config, error) {
	if !strings.HasPrefix(strings.ToLower(j.url), "wss://") || j.caFile == "" {
		return nil, nil
	}
	return tlsConfig(j.caFile)
}

// ---------------------------------------------------------------------------
// observation

type message struct {
	Type        string  `json:"type"`
	Length      int     `json:"length"`
	Text        *string `json:"text,omitempty"`
	Hex         *string `json:"hex,omitempty"`
	Sha256      string  `json:"sha256,omitempty"`
	InvalidUTF8 bool    `json:"invalid_utf8,omitempty"`
	TMs         float64 `json:"t_ms"`
}

type closeInfo struct {
	Code   *int    `json:"code"`
	Reason *string `json:"reason"`
	// Observable false: the API exposes no close code on the path the
	// connection ended by (absent when it does).
	Observable *bool `json:"observable,omitempty"`
}

type errorInfo struct {
	// Type is the meaningful type: the first error in the chain that is
	// not a generic wrapper (*fmt.wrapError and the like), named by its
	// variable for the standard sentinels (io.EOF); Outer is the type of
	// the error value itself when that differs.
	Type    string   `json:"type"`
	Message string   `json:"message"`
	Outer   string   `json:"outer_type,omitempty"`
	Wrapped []string `json:"wrapped,omitempty"` // types of the errors it wraps, outermost first
}

// crashInfo: a panic in the library's code, which kills an application
// (the observation's `crash`).
type crashInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Where   string `json:"where"`
	At      string `json:"at,omitempty"`
	Stack   string `json:"stack,omitempty"`
}

type event map[string]any

type observation struct {
	ID          json.RawMessage `json:"id"`
	Connected   bool            `json:"connected"`
	Messages    []message       `json:"messages"`
	Close       *closeInfo      `json:"close"`
	End         string          `json:"end"`
	Error       *errorInfo      `json:"error"`
	Unsupported []string        `json:"unsupported"`
	Subprotocol *string         `json:"subprotocol"`
	HTTPStatus  *int            `json:"http_status,omitempty"`
	Clean       *bool           `json:"clean"`
	CleanSource *string         `json:"clean_source"`
	Crash       *crashInfo      `json:"crash"`
	T0UnixUs    int64           `json:"t0_unix_us"`
	Events      []event         `json:"events"`
	DurationMs  float64         `json:"duration_ms"`
}

// recorder builds one job's observation; safe for the goroutines a job
// starts (timers, a concurrent close).
type recorder struct {
	mu     sync.Mutex
	t0     time.Time
	obs    observation
	sealed bool // finished: late events from a stray goroutine are dropped
}

func newRecorder(id json.RawMessage) *recorder {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	return &recorder{t0: time.Now(), obs: observation{
		ID: id, Messages: []message{}, Unsupported: []string{}, Events: []event{},
	}}
}

// start marks connect_start: every t_ms counts from here.
func (r *recorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t0 = time.Now()
	r.obs.T0UnixUs = r.t0.UnixMicro()
	r.obs.Events = append(r.obs.Events, event{"t_ms": 0.0, "event": "connect_start"})
}

func (r *recorder) sinceStart() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Since(r.t0)
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// event records a timeline entry; fields come as name, value pairs.
func (r *recorder) event(name string, fields ...any) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eventLocked(name, fields...)
}

func (r *recorder) eventLocked(name string, fields ...any) float64 {
	t := ms(time.Since(r.t0))
	if r.sealed {
		return t
	}
	e := event{"t_ms": t, "event": name}
	for i := 0; i+1 < len(fields); i += 2 {
		e[fields[i].(string)] = fields[i+1]
	}
	r.obs.Events = append(r.obs.Events, e)
	return t
}

// message records a received data message; returns how many there are now.
func (r *recorder) message(kind string, data []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := describe(kind, data)
	m.TMs = r.eventLocked("message", "type", kind, "length", len(data))
	r.obs.Messages = append(r.obs.Messages, m)
	return len(r.obs.Messages)
}

// describe: type, byte length, and the content inline or as a digest. A text
// message that is not valid UTF-8 (a library that does not check) is shown
// as hex, flagged invalid_utf8, so no byte is lost to JSON's replacement.
func describe(kind string, data []byte) message {
	m := message{Type: kind, Length: len(data)}
	valid := kind != "text" || utf8.Valid(data)
	m.InvalidUTF8 = !valid
	switch {
	case len(data) > inlineLimit:
		sum := sha256.Sum256(data)
		m.Sha256 = hex.EncodeToString(sum[:])
	case kind == "text" && valid:
		text := string(data)
		m.Text = &text
	default:
		h := hex.EncodeToString(data)
		m.Hex = &h
	}
	return m
}

func (r *recorder) setConnected(subprotocol string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs.Connected = true
	if subprotocol != "" {
		r.obs.Subprotocol = &subprotocol
	}
	r.eventLocked("open")
}

func (r *recorder) setHTTPStatus(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs.HTTPStatus = &status
}

// setClose records the close code and reason as the library exposed them.
func (r *recorder) setClose(code int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs.Close = &closeInfo{Code: &code, Reason: &reason}
}

// setCloseUnobservable: the connection ended by a path on which the API
// exposes no close code at all (not "no code": no way to tell one).
func (r *recorder) setCloseUnobservable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	no := false
	r.obs.Close = &closeInfo{Observable: &no}
}

// setClean records whether the library reported the closure as clean, and
// where that was read; source alone (clean unknown) says why it is null.
func (r *recorder) setClean(clean *bool, source string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs.Clean = clean
	r.obs.CleanSource = &source
}

func (r *recorder) hasClean() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.obs.CleanSource != nil
}

func boolPtr(b bool) *bool { return &b }

// noConnection: clean_source when the opening handshake did not succeed.
const noConnection = "none: the opening handshake failed, there was no connection to close"

// connectEnded records an opening handshake that did not give a connection:
// connect_timeout when the adapter's own timeout cut it off (the library
// neither connected nor refused), connect_failed when the library refused;
// the HTTP status of resp, when the library returned the response.
func (r *recorder) connectEnded(err error, resp *http.Response, timedOut bool) {
	if resp != nil {
		r.setHTTPStatus(resp.StatusCode)
	}
	how := "connect_failed"
	fields := []any{"type", meaningfulType(err), "message", err.Error()}
	if timedOut {
		how = "connect_timeout"
		fields = append([]any{"waited_ms", ms(r.sinceStart())}, fields...)
	}
	r.event(how, fields...)
	r.setClean(nil, noConnection)
	r.end(how, err)
}

// setCrash records a panic of the library's code (the first one wins).
func (r *recorder) setCrash(c *crashInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.obs.Crash == nil {
		r.obs.Crash = c
	}
	r.eventLocked("crash", "type", c.Type, "message", c.Message, "where", c.Where, "at", c.At)
}

func (r *recorder) hasClose() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.obs.Close != nil
}

// end records how receiving ended and the error that ended it, if any.
func (r *recorder) end(how string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs.End = how
	if err != nil {
		r.obs.Error = describeError(err)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.obs.Messages)
}

func (r *recorder) finish() *observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.sealed {
		r.obs.DurationMs = ms(time.Since(r.t0))
	}
	r.sealed = true
	return &r.obs
}

// budget: what is left of the job's deadline for the adapter's own final
// waits (at least 200 ms).
func (r *recorder) budget(j *job) time.Duration {
	if j.deadline == 0 {
		return 10 * time.Second
	}
	left := j.deadline - r.sinceStart() - deadlineMargin
	if left < 200*time.Millisecond {
		left = 200 * time.Millisecond
	}
	return left
}

// openTimeoutFor: the adapter's own bound on the opening handshake,
// openTimeout cut to leave room in the job's deadline (at least 1 s). When
// it expires the observation's end is "connect_timeout": the library
// neither connected nor refused.
func openTimeoutFor(j *job) time.Duration {
	if j.deadline == 0 {
		return openTimeout
	}
	d := j.deadline - deadlineMargin - time.Second
	if d < time.Second {
		d = time.Second
	}
	if d > openTimeout {
		d = openTimeout
	}
	return d
}

// typeName is an error's dynamic type with its full package path, e.g.
// "*github.com/gorilla/websocket.CloseError".
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	stars := ""
	for t.Kind() == reflect.Pointer {
		stars += "*"
		t = t.Elem()
	}
	if t.PkgPath() == "" || t.Name() == "" {
		return stars + t.String()
	}
	return stars + t.PkgPath() + "." + t.Name()
}

func describeError(err error) *errorInfo {
	info := &errorInfo{Type: meaningfulType(err), Message: err.Error()}
	if outer := typeName(err); outer != info.Type {
		info.Outer = outer
	}
	for inner := errors.Unwrap(err); inner != nil; inner = errors.Unwrap(inner) {
		info.Wrapped = append(info.Wrapped, typeName(inner))
	}
	return info
}

// sentinels: standard errors that are values of a generic type; named by
// their variable, which is what says what happened.
var sentinels = []struct {
	err  error
	name string
}{
	{io.EOF, "io.EOF"},
	{io.ErrUnexpectedEOF, "io.ErrUnexpectedEOF"},
	{io.ErrClosedPipe, "io.ErrClosedPipe"},
	{net.ErrClosed, "net.ErrClosed"},
	{context.Canceled, "context.Canceled"},
	{context.DeadlineExceeded, "context.DeadlineExceeded"},
	{os.ErrDeadlineExceeded, "os.ErrDeadlineExceeded"},
}

// genericWrapper: a type that only adds text around the error it wraps
// (fmt.Errorf with %w, errors.Join, golang.org/x/xerrors before Go 1.13).
func genericWrapper(t string) bool {
	switch t {
	case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError",
		"*golang.org/x/xerrors.wrapError", "*golang.org/x/xerrors.noWrapError":
		return true
	}
	return false
}

// meaningfulType: the type that says what went wrong. Walks the chain of
// wrapped errors from the outside in, past generic wrappers, and names a
// standard sentinel by its variable (io.EOF rather than
// *errors.errorString). A chain of nothing but wrappers and plain strings
// keeps the innermost type (*errors.errorString): the message is all the
// library gave.
func meaningfulType(err error) string {
	last := typeName(err)
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range sentinels {
			if e == s.err {
				return s.name
			}
		}
		t := typeName(e)
		last = t
		if genericWrapper(t) || t == "*errors.errorString" {
			continue
		}
		return t
	}
	return last
}

// ---------------------------------------------------------------------------
// process

// libraryVersion: the version of the library module linked into this
// binary, from the build information (a local checkout shows its path).
func libraryVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path != libraryModule {
			continue
		}
		if dep.Replace != nil {
			// A local checkout: its directory (the go command shows no
			// version for it, or "(devel)").
			if v := dep.Replace.Version; v != "" && v != "(devel)" {
				return v
			}
			return "(devel) " + dep.Replace.Path
		}
		return dep.Version
	}
	return "unknown"
}

type output struct{ enc *json.Encoder }

func (o *output) emit(v any) {
	if err := o.enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "adapter: cannot write to stdout: %v\n", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------------
// panics

// panicOrigin, called (directly or not) from a deferred function while a
// panic unwinds: the function that panicked (the first frame under
// runtime.gopanic that is not the runtime's own, e.g. below sigpanic for a
// nil dereference) and its file:line.
func panicOrigin() (fn, at string) {
	pcs := make([]uintptr, 100)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function, fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		if !more {
			return "", ""
		}
	}
}

// inLibrary: the function belongs to the library under test (the installer
// rewrites libraryModule to the former path for builds of one).
func inLibrary(fn string) bool {
	return strings.HasPrefix(fn, libraryModule+".") || strings.HasPrefix(fn, libraryModule+"/")
}

// libraryCrash: the crash record for a recovered panic value if the panic
// came from the library's code, else nil (the adapter's own bug). Call it
// from the deferred function that recovered.
func libraryCrash(p any, where string) *crashInfo {
	fn, at := panicOrigin()
	if !inLibrary(fn) {
		return nil
	}
	kind := "panic"
	if err, ok := p.(error); ok {
		kind = typeName(err)
	}
	return &crashInfo{
		Type:    kind,
		Message: fmt.Sprint(p),
		Where:   where,
		At:      fn + " (" + at + ")",
		Stack:   string(debug.Stack()),
	}
}

// recoverLibraryPanic, deferred in a goroutine the adapter starts and that
// calls into the library: a panic from the library's code there would kill
// an application; it becomes the job's crash and the goroutine ends. A
// panic of the adapter's own code still kills the process, with its trace
// on stderr (the harness quotes it).
func (r *recorder) recoverLibraryPanic(where string) {
	p := recover()
	if p == nil {
		return
	}
	if c := libraryCrash(p, where); c != nil {
		fmt.Fprintf(os.Stderr, "adapter: library panic in %s: %v\n%s", where, p, c.Stack)
		r.setCrash(c)
		return
	}
	fmt.Fprintf(os.Stderr, "adapter: panic: %v\n%s", p, debug.Stack())
	os.Exit(2)
}

// runOne turns one job line into one observation. A panic of the library's
// code on the job's goroutine is the job's crash; an adapter bug (a panic
// elsewhere) and a bad job become "adapter_error" observations, never a
// dead process. (A panic in a goroutine the library started cannot be
// recovered: it kills the process, and Go prints "panic: ..." and the
// goroutine's trace on stderr, which the harness keeps.)
func runOne(line []byte) (obs *observation) {
	j, err := parseJob(line)
	rec := newRecorder(j.id)
	defer func() {
		if p := recover(); p != nil {
			if c := libraryCrash(p, "the job's goroutine, in a call the adapter made"); c != nil {
				fmt.Fprintf(os.Stderr, "adapter: library panic: %v\n%s", p, c.Stack)
				rec.setCrash(c)
				rec.mu.Lock()
				if rec.obs.End == "" {
					rec.obs.End = "error"
				}
				rec.mu.Unlock()
				obs = rec.finish()
				return
			}
			rec.end("adapter_error", nil)
			rec.mu.Lock()
			rec.obs.Error = &errorInfo{
				Type:    "panic",
				Message: fmt.Sprintf("%v\n%s", p, debug.Stack()),
			}
			rec.mu.Unlock()
			obs = rec.finish()
		}
	}()
	if err == nil {
		j.unsupported = append(j.unsupported, libraryUnsupported(&j.knobs)...)
		if len(j.unsupported) > 0 {
			sort.Strings(j.unsupported)
			rec.obs.Unsupported = j.unsupported
			rec.end("unsupported", nil)
			return rec.finish()
		}
		err = runJob(rec, j)
	}
	if err != nil {
		// The job could not be run as the contract says: a harness or
		// adapter problem, not the library's.
		fmt.Fprintf(os.Stderr, "adapter: job %s: %v\n", j.id, err)
		rec.end("adapter_error", err)
	}
	return rec.finish()
}

// guard runs f in a goroutine of the adapter's: a panic of the library's
// code there becomes the job's crash (see recoverLibraryPanic); any other
// panic is reported on stderr and ends the process (the harness restarts a
// dead adapter).
func guard(rec *recorder, where string, f func()) {
	go func() {
		defer rec.recoverLibraryPanic(where)
		f()
	}()
}

func main() {
	// The contract channel is the real stdout; anything else that writes to
	// os.Stdout (a stray print in a library) lands on stderr instead.
	out := &output{enc: json.NewEncoder(os.Stdout)}
	out.enc.SetEscapeHTML(false)
	os.Stdout = os.Stderr

	out.emit(map[string]any{
		"event":    "ready",
		"adapter":  adapterName,
		"library":  libraryModule,
		"version":  libraryVersion(),
		"api":      apiName,
		"language": runtime.Version(),
	})
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if trimmed := strings.TrimSpace(string(line)); trimmed != "" {
			out.emit(runOne([]byte(trimmed)))
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "adapter: reading stdin: %v\n", err)
			os.Exit(1)
		}
	}
}
