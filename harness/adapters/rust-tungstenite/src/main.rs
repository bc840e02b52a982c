//! wsreplay adapter for the Rust `tungstenite` crate: its blocking client.
//!
//! It speaks the contract in harness/adapters/README.md: one `ready` line on
//! stdout, then one observation line per job line read from stdin. It drives
//! tungstenite the way a blocking application does — `connect`, `read` in a
//! loop, `send`, `close` — and reports what the application saw. Besides the
//! standard library and tungstenite it uses native-tls (the crate
//! tungstenite's own `native-tls` feature uses) to trust the run's CA for
//! `wss://`, serde / serde_json for the JSON lines and sha2 for the digest of
//! a large message.
//!
//! One source serves tungstenite 0.13 to the newest release. The harness's
//! installer (harness/wsreplay/installers/rust.py) generates the Cargo
//! project and turns these features on by version:
//!
//! - `read-send` (0.20+): `WebSocket::read` / `send`; older releases have
//!   `read_message` / `write_message` (still there, deprecated, in 0.20+).
//! - `payload-0-25` (0.25.x only): binary payloads are `Payload`, read with
//!   `as_slice()`; before they are `Vec<u8>`, after `Bytes` (both `AsRef<[u8]>`).
//! - `auto-stream` (0.13.x-0.14.x): `connect` returns
//!   `WebSocket<client::AutoStream>`, and there is no TLS `Connector`: wss://
//!   sets up native-tls itself, then calls `client_with_config`.
//!
//! Text payloads are read with `Message::to_text()`, close reasons with
//! `to_string()`, and outgoing payloads built with `.into()`, which every
//! release accepts.
//!
//! Choices that shape what the application sees, and why:
//!
//! - `ws://` goes through `tungstenite::connect(request)`, the library's own
//!   blocking entry point (it resolves the host, connects, sets TCP_NODELAY,
//!   runs the handshake and follows up to 3 redirects). It has no handshake
//!   timeout, so it runs on a thread of its own and the adapter stops
//!   waiting after the open budget (`end: connect_timeout`: a hang).
//! - `wss://` with the job's `ca_file` cannot go through `connect`, which
//!   takes no TLS settings: the adapter does what `connect` does inside
//!   (resolve, TCP connect, TCP_NODELAY) and calls
//!   `tungstenite::client_tls_with_config` with a native-tls connector that
//!   trusts exactly that CA (built-in roots off). It follows no redirects,
//!   and the socket's read timeout bounds the handshake by the open budget.
//! - Every call into tungstenite runs under `catch_unwind`: a panic inside
//!   it is the library's crash (reported, with the hook's backtrace), a
//!   panic in the adapter's own code an adapter_error.
//! - Everything else (WebSocketConfig: message and frame size limits, write
//!   buffers) stays at the library's defaults.
//! - Receive timeouts are the socket's read timeout (SO_RCVTIMEO on the TCP
//!   socket under the WebSocket, TLS or not): `read()` then returns an I/O
//!   error of kind WouldBlock/TimedOut, after which tungstenite stays usable.
//! - After the server's Close message, the adapter keeps calling `read()`
//!   as tungstenite's documentation says (that call flushes the automatic
//!   close reply), until `Error::ConnectionClosed` or the job's deadline.

// tungstenite's Error is large in older releases (136 bytes before 0.28);
// the adapter returns it as it comes.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
#[cfg(not(feature = "auto-stream"))]
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Error as WsError, Message, WebSocket};

#[cfg(not(feature = "auto-stream"))]
type Ws = WebSocket<MaybeTlsStream<TcpStream>>;
/// Before 0.15 `connect` returns a `WebSocket<AutoStream>`: plain or native-tls.
#[cfg(feature = "auto-stream")]
type Ws = WebSocket<tungstenite::client::AutoStream>;

const ADAPTER: &str = "rust-tungstenite";
const EXIT_USAGE: i32 = 2;
/// Message content up to this many bytes is reported inline, longer ones as sha256.
const INLINE_LIMIT: usize = 4096;
/// Kept free before the job's deadline so the observation still gets out.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// The deadline of a job that names none.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// The code of the adapter's own close after receiving ended (timeout, max_messages).
const FINAL_CLOSE_CODE: u16 = 1000;
/// The shortest wait handed to a socket (a zero timeout means "none" to the OS).
const MIN_WAIT: Duration = Duration::from_millis(1);
/// How long the opening handshake may take before the adapter cuts it off
/// (`end: connect_timeout`), unless the job's deadline comes first.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of a panic's backtrace the `crash` keeps.
const TRACE_LIMIT: usize = 8000;

// ------------------------------------------------------------------ the API by version

#[cfg(feature = "read-send")]
const API: &str = "tungstenite::connect (ws://) or client_tls_with_config (wss:// + ca_file); \
                   WebSocket::read/send/close, blocking";
#[cfg(not(feature = "read-send"))]
const API: &str = "tungstenite::connect (ws://) or client_tls_with_config (wss:// + ca_file); \
                   WebSocket::read_message/write_message/close, blocking";

#[cfg(feature = "read-send")]
const READ_CALL: &str = "tungstenite::WebSocket::read";
#[cfg(not(feature = "read-send"))]
const READ_CALL: &str = "tungstenite::WebSocket::read_message";
#[cfg(feature = "read-send")]
const SEND_CALL: &str = "tungstenite::WebSocket::send";
#[cfg(not(feature = "read-send"))]
const SEND_CALL: &str = "tungstenite::WebSocket::write_message";
const CLOSE_CALL: &str = "tungstenite::WebSocket::close";

#[cfg(feature = "read-send")]
fn ws_read(ws: &mut Ws) -> tungstenite::Result<Message> {
    ws.read()
}

#[cfg(not(feature = "read-send"))]
fn ws_read(ws: &mut Ws) -> tungstenite::Result<Message> {
    ws.read_message()
}

#[cfg(feature = "read-send")]
fn ws_send(ws: &mut Ws, message: Message) -> tungstenite::Result<()> {
    ws.send(message)
}

#[cfg(not(feature = "read-send"))]
fn ws_send(ws: &mut Ws, message: Message) -> tungstenite::Result<()> {
    ws.write_message(message)
}

#[cfg(not(feature = "payload-0-25"))]
fn payload_bytes<P: AsRef<[u8]>>(payload: &P) -> &[u8] {
    payload.as_ref()
}

#[cfg(feature = "payload-0-25")]
fn payload_bytes(payload: &tungstenite::protocol::frame::Payload) -> &[u8] {
    payload.as_slice()
}

/// The TCP socket under the WebSocket, for its timeouts.
#[cfg(feature = "auto-stream")]
fn tcp_of(ws: &Ws) -> Option<&TcpStream> {
    match ws.get_ref() {
        tungstenite::stream::Stream::Plain(stream) => Some(stream),
        tungstenite::stream::Stream::Tls(stream) => Some(stream.get_ref()),
    }
}

/// The TCP socket under the WebSocket, for its timeouts.
#[cfg(not(feature = "auto-stream"))]
fn tcp_of(ws: &Ws) -> Option<&TcpStream> {
    match ws.get_ref() {
        MaybeTlsStream::Plain(stream) => Some(stream),
        MaybeTlsStream::NativeTls(stream) => Some(stream.get_ref()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

// ------------------------------------------------------------------ panics as facts

/// A panic, as the panic hook saw it (message, where in the source, backtrace).
struct Panic {
    message: String,
    location: Option<String>,
    trace: Option<String>,
}

/// The last panic the hook saw (the hook runs on the panicking thread, just
/// before the unwinding reaches `catch_unwind`).
static LAST_PANIC: std::sync::Mutex<Option<Panic>> = std::sync::Mutex::new(None);

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

fn take_panic(payload: Box<dyn std::any::Any + Send>) -> Panic {
    LAST_PANIC
        .lock()
        .ok()
        .and_then(|mut last| last.take())
        .unwrap_or_else(|| Panic {
            message: payload_text(payload.as_ref()),
            location: None,
            trace: None,
        })
}

/// A call into tungstenite: a panic inside it is caught and returned (the
/// library's crash), not an adapter failure.
fn guarded<T>(call: impl FnOnce() -> T) -> Result<T, Panic> {
    panic::catch_unwind(AssertUnwindSafe(call)).map_err(take_panic)
}

fn panic_error(panic: &Panic) -> ErrorInfo {
    error_info("panic", &panic.message)
}

// ------------------------------------------------------------------ errors as facts

/// The leading identifier of a Debug rendering: `Protocol(X)` -> `Protocol`.
fn leading_ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// A name for a tungstenite error that says what it is, like a class name:
/// `tungstenite::Error::Protocol(ResetWithoutClosingHandshake)`,
/// `tungstenite::Error::Io(ConnectionReset)`, `tungstenite::Error::ConnectionClosed`.
fn error_type(err: &WsError) -> String {
    if let WsError::Io(io_err) = err {
        return format!("tungstenite::Error::Io({:?})", io_err.kind());
    }
    let debug = format!("{err:?}");
    let outer = leading_ident(&debug);
    let inner = debug[outer.len()..]
        .strip_prefix('(')
        .map(leading_ident)
        .unwrap_or("");
    if inner.is_empty() {
        format!("tungstenite::Error::{outer}")
    } else {
        format!("tungstenite::Error::{outer}({inner})")
    }
}

fn error_info(kind: &str, message: &str) -> ErrorInfo {
    ErrorInfo {
        kind: kind.to_string(),
        message: message.to_string(),
    }
}

fn ws_error(err: &WsError) -> ErrorInfo {
    error_info(&error_type(err), &err.to_string())
}

fn is_timeout(err: &WsError) -> bool {
    matches!(err, WsError::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
}

/// The normal "the connection is over" signals of tungstenite.
fn is_closed_signal(err: &WsError) -> bool {
    matches!(err, WsError::ConnectionClosed | WsError::AlreadyClosed)
}

// ------------------------------------------------------------------ the job

/// The job line is not what the contract describes (a harness bug).
struct BadJob(String);

/// A job line (harness/adapters/README.md); its `id` is read on its own,
/// before the rest, so even a job that cannot be read is answered by id.
#[derive(Deserialize)]
struct Job {
    url: String,
    /// Complete: the harness sends every knob of the contract, defaults included.
    knobs: Map<String, Value>,
    ca_file: Option<String>,
    deadline_ms: Option<f64>,
}

enum SendItem {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

/// The close_first knob as the scenario wrote it. The harness passes it on
/// unchanged, so its own parts keep their meaning here: `code` absent is
/// 1000 (null: `close(None)`), `reason` absent or null is empty, and with
/// neither `after_messages` nor `after_ms` the close comes right after open.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseFirst {
    #[serde(default = "normal_closure")]
    code: Option<u16>,
    #[serde(default)]
    reason: Option<String>,
    after_messages: Option<u64>,
    after_ms: Option<f64>,
}

fn normal_closure() -> Option<u16> {
    Some(FINAL_CLOSE_CODE)
}

struct Knobs {
    recv_delay_ms: f64,
    recv_pace_ms: f64,
    recv_timeout_ms: f64,
    max_messages: u64,
    echo: bool,
    send: Vec<SendItem>,
    close_first: Option<CloseFirst>,
    subprotocols: Vec<String>,
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() & 1 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A job's deadline above this (about 30 years in ms) counts as this.
const MAX_DEADLINE_MS: f64 = 1e12;

/// Takes the knob `name` out of the job's knobs, as a `T`.
fn knob<T: DeserializeOwned>(knobs: &mut Map<String, Value>, name: &str) -> Result<T, BadJob> {
    let value = knobs
        .remove(name)
        .ok_or_else(|| BadJob(format!("the job has no knob {name} (knobs come complete)")))?;
    serde_json::from_value(value).map_err(|e| BadJob(format!("knob {name}: {e}")))
}

/// The send items; `Ok(None)`: an item of a kind this adapter does not know
/// (reported unsupported).
fn send_items(items: Vec<BTreeMap<String, String>>) -> Result<Option<Vec<SendItem>>, BadJob> {
    let mut out = Vec::new();
    for item in items {
        let mut members = item.into_iter();
        let (Some((kind, text)), None) = (members.next(), members.next()) else {
            return Ok(None);
        };
        out.push(match kind.as_str() {
            "text" => SendItem::Text(text),
            "ping" => SendItem::Ping(text.into_bytes()),
            "hex" => SendItem::Binary(
                decode_hex(&text).ok_or_else(|| BadJob(format!("knob send: bad hex {text:?}")))?,
            ),
            _ => return Ok(None),
        });
    }
    Ok(Some(out))
}

/// The knobs of a job, and the names of those this adapter cannot honour.
fn parse_knobs(mut given: Map<String, Value>) -> Result<(Knobs, Vec<String>), BadJob> {
    let mut unsupported = Vec::new();
    let send = send_items(knob(&mut given, "send")?)?.unwrap_or_else(|| {
        unsupported.push("send".to_string());
        Vec::new()
    });
    let mut close_first: Option<CloseFirst> = knob(&mut given, "close_first")?;
    if let Some(close) = close_first.as_mut() {
        if close.after_messages.is_none() && close.after_ms.is_none() {
            close.after_messages = Some(0);
        }
    }
    let knobs = Knobs {
        recv_delay_ms: knob(&mut given, "recv_delay_ms")?,
        recv_pace_ms: knob(&mut given, "recv_pace_ms")?,
        recv_timeout_ms: knob(&mut given, "recv_timeout_ms")?,
        max_messages: knob(&mut given, "max_messages")?,
        echo: knob(&mut given, "echo")?,
        send,
        close_first,
        subprotocols: knob(&mut given, "subprotocols")?,
    };
    // compression: no tungstenite release (0.13.0 to 0.30.0) implements
    // permessage-deflate, and none sends Sec-WebSocket-Extensions: "default"
    // and "off" are what it always does; "on" or an offer it cannot make. A
    // job from a server older than the knob has none: "default".
    match given.remove("compression") {
        None | Some(Value::Null) => {}
        Some(Value::String(mode)) if mode == "default" || mode == "off" => {}
        Some(_) => unsupported.push("compression".to_string()),
    }
    // What is left are knobs this adapter does not know; set to something
    // other than "off" (null, false), they must not be silently ignored.
    unsupported.extend(
        given
            .into_iter()
            .filter(|(_, value)| !value.is_null() && *value != Value::Bool(false))
            .map(|(name, _)| name),
    );
    unsupported.sort();
    Ok((knobs, unsupported))
}

// ------------------------------------------------------------------ one job's record

/// An error as the contract reports it: a type like a class name, and its text.
#[derive(Serialize)]
struct ErrorInfo {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

/// The close as tungstenite exposed it (`observable: false`: not at all).
#[derive(Serialize)]
struct Close {
    code: Option<u16>,
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    observable: Option<bool>,
}

impl Close {
    /// `Message::Close(frame)`: its code and reason, both null for `Close(None)`.
    fn from_frame(frame: Option<(u16, String)>) -> Close {
        let (code, reason) = frame.unzip();
        Close {
            code,
            reason,
            observable: None,
        }
    }

    /// The connection ended through an error: no close code on that path.
    fn not_observable() -> Close {
        Close {
            code: None,
            reason: None,
            observable: Some(false),
        }
    }
}

#[derive(Serialize)]
struct Crash {
    #[serde(rename = "type")]
    kind: &'static str,
    message: String,
    #[serde(rename = "where")]
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<String>,
}

/// A data message as the contract wants it: type, byte length, content or digest.
#[derive(Serialize)]
struct Received {
    #[serde(rename = "type")]
    kind: &'static str,
    length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    t_ms: f64,
}

impl Received {
    /// Content up to INLINE_LIMIT bytes inline (text, else hex), longer as its SHA-256.
    fn new(kind: &'static str, bytes: &[u8], text: Option<&str>, t_ms: f64) -> Received {
        let mut entry = Received {
            kind,
            length: bytes.len(),
            sha256: None,
            text: None,
            hex: None,
            t_ms,
        };
        if bytes.len() > INLINE_LIMIT {
            entry.sha256 = Some(hex(&Sha256::digest(bytes)));
        } else if let Some(text) = text {
            entry.text = Some(text.to_string());
        } else {
            entry.hex = Some(hex(bytes));
        }
        entry
    }
}

/// One point of the timeline: `t_ms`, the event's name, its own fields.
#[derive(Serialize)]
struct Event {
    t_ms: f64,
    event: &'static str,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// One job's observation line; every field the contract names is always
/// there (null until known), `http_status` only for a refused handshake.
#[derive(Serialize)]
struct Observation {
    #[serde(skip)]
    t0: Instant,
    id: Value,
    connected: bool,
    messages: Vec<Received>,
    close: Option<Close>,
    end: Option<&'static str>,
    error: Option<ErrorInfo>,
    unsupported: Vec<String>,
    subprotocol: Option<String>,
    t0_unix_us: Option<u64>,
    clean: Option<bool>,
    clean_source: Option<String>,
    crash: Option<Crash>,
    events: Vec<Event>,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
}

impl Observation {
    fn new(id: Value) -> Self {
        Observation {
            t0: Instant::now(),
            id,
            connected: false,
            messages: Vec::new(),
            close: None,
            end: None,
            error: None,
            unsupported: Vec::new(),
            subprotocol: None,
            t0_unix_us: None,
            clean: None,
            clean_source: None,
            crash: None,
            events: Vec::new(),
            duration_ms: 0.0,
            http_status: None,
        }
    }

    /// connect_start: every t_ms is measured from here; `t0_unix_us` is the
    /// same instant on the wall clock, to place the events on the server
    /// transcript's clock.
    fn start(&mut self) {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        self.t0 = Instant::now();
        self.t0_unix_us = Some(wall);
        self.event("connect_start");
    }

    /// How the library reported the end of the connection (the first report counts).
    fn clean(&mut self, clean: bool, source: &str) {
        if self.clean.is_none() {
            self.clean = Some(clean);
            self.clean_source = Some(source.to_string());
        }
    }

    /// A panic inside tungstenite: each one a `crash` event, the first one the
    /// observation's `crash`.
    fn crash(&mut self, panic: &Panic, call: &str) {
        let at = match &panic.location {
            Some(at) => format!("{call}: panicked at {at}"),
            None => format!("{call}: panicked"),
        };
        self.event_with(
            "crash",
            json!({"type": "panic", "message": panic.message, "where": at}),
        );
        if self.crash.is_none() {
            self.crash = Some(Crash {
                kind: "panic",
                message: panic.message.clone(),
                at,
                stack: panic.trace.clone(),
            });
        }
    }

    fn now_ms(&self) -> f64 {
        (self.t0.elapsed().as_secs_f64() * 1e6).round() / 1e3
    }

    /// Record a timeline event; returns its t_ms.
    fn event(&mut self, name: &'static str) -> f64 {
        self.event_with(name, json!({}))
    }

    /// Record a timeline event with fields of its own (a JSON object); returns its t_ms.
    fn event_with(&mut self, name: &'static str, fields: Value) -> f64 {
        let t_ms = self.now_ms();
        let Value::Object(fields) = fields else {
            unreachable!("event fields are an object");
        };
        let event = Event {
            t_ms,
            event: name,
            fields,
        };
        if debug_enabled() {
            let line = serde_json::to_string(&event).unwrap_or_default();
            eprintln!("wsreplay adapter {ADAPTER}: {line}");
        }
        self.events.push(event);
        t_ms
    }

    /// The closing handshake failed: a `close_error` event with the error.
    fn close_error(&mut self, err: &WsError) {
        self.event_with(
            "close_error",
            json!({"type": error_type(err), "message": err.to_string()}),
        );
    }

    fn end(&mut self, how: &'static str, error: Option<ErrorInfo>) {
        self.end = Some(how);
        if error.is_some() {
            self.error = error;
        }
    }

    fn finish(mut self) -> Observation {
        self.duration_ms = self.now_ms();
        self
    }
}

// ------------------------------------------------------------------ connecting

fn native_tls_error(what: &str, err: impl std::fmt::Display) -> ErrorInfo {
    error_info("native_tls::Error", &format!("{what}: {err}"))
}

/// A TLS connector that trusts exactly the CA in `ca_file`.
fn tls_connector(ca_file: &str) -> Result<native_tls::TlsConnector, ErrorInfo> {
    let pem = std::fs::read(ca_file).map_err(|e| {
        error_info(
            "std::io::Error",
            &format!("cannot read ca_file {ca_file}: {e}"),
        )
    })?;
    let ca = native_tls::Certificate::from_pem(&pem).map_err(|e| native_tls_error("ca_file", e))?;
    native_tls::TlsConnector::builder()
        .disable_built_in_roots(true)
        .add_root_certificate(ca)
        .build()
        .map_err(|e| native_tls_error("TlsConnector::build", e))
}

/// What `tungstenite::connect` does before its handshake: every resolved
/// address in turn, then TCP_NODELAY.
fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, WsError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{host} resolves to no address"),
    );
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect(addr) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(WsError::Io(last))
}

enum ConnectError {
    Ws(WsError),
    /// Not from tungstenite (reading the CA, building the TLS connector, a bad header).
    Other(ErrorInfo),
    /// The adapter's open timeout cut the opening handshake off: no refusal, a hang.
    Timeout(Duration),
    /// tungstenite panicked while connecting (`call` names the function).
    Panic(Panic, &'static str),
}

impl From<WsError> for ConnectError {
    fn from(err: WsError) -> Self {
        ConnectError::Ws(err)
    }
}

fn open(
    url: &str,
    knobs: &Knobs,
    ca_file: Option<&str>,
    handshake_budget: Duration,
) -> Result<(Ws, tungstenite::handshake::client::Response), ConnectError> {
    let mut request = url.into_client_request()?;
    if !knobs.subprotocols.is_empty() {
        let offer = knobs.subprotocols.join(", ");
        let value = tungstenite::http::HeaderValue::from_str(&offer).map_err(|e| {
            ConnectError::Other(error_info(
                "http::header::InvalidHeaderValue",
                &format!("{offer:?}: {e}"),
            ))
        })?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    let secure = request.uri().scheme_str() == Some("wss");
    let Some(ca_file) = ca_file.filter(|_| secure) else {
        return connect_in_thread(request, handshake_budget);
    };
    let connector = tls_connector(ca_file).map_err(ConnectError::Other)?;
    let host = request.uri().host().unwrap_or("").to_string();
    let port = request.uri().port_u16().unwrap_or(443);
    let stream = tcp_connect(&host, port)?;
    stream
        .set_read_timeout(Some(handshake_budget.max(MIN_WAIT)))
        .map_err(WsError::Io)?;
    stream
        .set_write_timeout(Some(handshake_budget.max(MIN_WAIT)))
        .map_err(WsError::Io)?;
    tls_handshake(request, stream, connector, &host, handshake_budget)
}

/// TLS, then the WebSocket handshake, through tungstenite's own TLS entry
/// point (0.15+), with a connector that trusts exactly the run's CA.
#[cfg(not(feature = "auto-stream"))]
fn tls_handshake(
    request: tungstenite::handshake::client::Request,
    stream: TcpStream,
    connector: native_tls::TlsConnector,
    _host: &str,
    handshake_budget: Duration,
) -> Result<(Ws, tungstenite::handshake::client::Response), ConnectError> {
    let connector = tungstenite::Connector::NativeTls(connector);
    let call = "tungstenite::client_tls_with_config";
    match guarded(|| tungstenite::client_tls_with_config(request, stream, None, Some(connector))) {
        Ok(Ok(pair)) => Ok(pair),
        Ok(Err(HandshakeError::Failure(err))) => Err(err.into()),
        // The socket's read timeout (the open budget) ended a handshake the server never answered.
        Ok(Err(HandshakeError::Interrupted(_))) => Err(ConnectError::Timeout(handshake_budget)),
        Err(panic) => Err(ConnectError::Panic(panic, call)),
    }
}

/// Before 0.15 tungstenite takes no TLS connector: TLS is set up with
/// native-tls the way tungstenite's own `connect` does it (its `native-tls`
/// feature), trusting exactly the run's CA, then `client_with_config` runs
/// the WebSocket handshake over that stream.
#[cfg(feature = "auto-stream")]
fn tls_handshake(
    request: tungstenite::handshake::client::Request,
    stream: TcpStream,
    connector: native_tls::TlsConnector,
    host: &str,
    handshake_budget: Duration,
) -> Result<(Ws, tungstenite::handshake::client::Response), ConnectError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tls = match connector.connect(host, stream) {
        Ok(tls) => tls,
        Err(native_tls::HandshakeError::Failure(err)) => {
            return Err(ConnectError::Other(native_tls_error("TLS handshake", err)))
        }
        Err(native_tls::HandshakeError::WouldBlock(_)) => {
            return Err(ConnectError::Timeout(handshake_budget))
        }
    };
    let stream = tungstenite::stream::Stream::Tls(tls);
    let call = "tungstenite::client_with_config";
    match guarded(|| tungstenite::client::client_with_config(request, stream, None)) {
        Ok(Ok(pair)) => Ok(pair),
        Ok(Err(HandshakeError::Failure(err))) => Err(err.into()),
        Ok(Err(HandshakeError::Interrupted(_))) => Err(ConnectError::Timeout(handshake_budget)),
        Err(panic) => Err(ConnectError::Panic(panic, call)),
    }
}

/// `tungstenite::connect` cannot be given a timeout (it opens its socket
/// itself): it runs on a thread of its own, and the adapter stops waiting
/// after `budget` (the thread is left to end when the peer does).
fn connect_in_thread(
    request: tungstenite::handshake::client::Request,
    budget: Duration,
) -> Result<(Ws, tungstenite::handshake::client::Response), ConnectError> {
    let (done, result) = mpsc::channel();
    std::thread::Builder::new()
        .name("tungstenite::connect".into())
        .spawn(move || {
            let _ = done.send(guarded(|| tungstenite::connect(request)));
        })
        .map_err(|e| {
            ConnectError::Other(error_info(
                "std::io::Error",
                &format!("cannot start a thread for tungstenite::connect: {e}"),
            ))
        })?;
    match result.recv_timeout(budget.max(MIN_WAIT)) {
        Ok(Ok(connected)) => Ok(connected?),
        Ok(Err(panic)) => Err(ConnectError::Panic(panic, "tungstenite::connect")),
        Err(_) => Err(ConnectError::Timeout(budget)),
    }
}

// ------------------------------------------------------------------ a connection's life

struct Session {
    obs: Observation,
    knobs: Knobs,
    ws: Ws,
    sock: Option<TcpStream>,
    deadline: Instant,
    close_at: Option<Instant>,
    close_called: bool,
    /// tungstenite returned the server's Close message.
    peer_closed: bool,
    /// tungstenite returned an error that ends the connection.
    ended: bool,
    received: u64,
    close_source: &'static str,
}

impl Session {
    /// `read()`; None if tungstenite panicked (recorded as its crash, the end).
    fn read(&mut self) -> Option<tungstenite::Result<Message>> {
        match guarded(|| ws_read(&mut self.ws)) {
            Ok(result) => Some(result),
            Err(panic) => {
                self.on_panic(&panic, READ_CALL);
                None
            }
        }
    }

    /// `send()`; None if tungstenite panicked.
    fn send(&mut self, message: Message) -> Option<tungstenite::Result<()>> {
        match guarded(|| ws_send(&mut self.ws, message)) {
            Ok(result) => Some(result),
            Err(panic) => {
                self.on_panic(&panic, SEND_CALL);
                None
            }
        }
    }

    /// `close()`; None if tungstenite panicked.
    fn close(&mut self, frame: Option<CloseFrame>) -> Option<tungstenite::Result<()>> {
        match guarded(|| self.ws.close(frame)) {
            Ok(result) => Some(result),
            Err(panic) => {
                self.on_panic(&panic, CLOSE_CALL);
                None
            }
        }
    }

    /// tungstenite panicked inside a call: its crash. Like an application
    /// that catches the panic, the adapter stops using the connection.
    fn on_panic(&mut self, panic: &Panic, call: &str) {
        self.obs.crash(panic, call);
        self.ended = true;
        if self.obs.end.is_none() {
            self.obs.event_with("error", json!({"type": "panic"}));
            self.obs.end("error", Some(panic_error(panic)));
        }
    }

    /// The connection ended through an error: how tungstenite reported the
    /// closure, and the close (none is exposed on this path).
    fn ended_by(&mut self, err: &WsError) {
        let kind = error_type(err);
        self.obs
            .clean(matches!(err, WsError::ConnectionClosed), &kind);
        if self.obs.close.is_none() && !matches!(err, WsError::ConnectionClosed) {
            self.obs.close = Some(Close::not_observable());
            self.close_source = "none: an error, which carries no close code";
        }
    }

    fn set_read_timeout(&self, wait: Duration) {
        if let Some(sock) = &self.sock {
            let _ = sock.set_read_timeout(Some(wait.max(MIN_WAIT)));
        }
    }

    fn until_deadline(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn pending_close_at(&self) -> Option<Instant> {
        if self.close_called || self.peer_closed || self.ended {
            None
        } else {
            self.close_at
        }
    }

    /// The application does nothing for `ms` (the library is not called),
    /// except to close when close_first's `after_ms` comes due meanwhile.
    fn idle(&mut self, ms: f64) {
        let end = Instant::now() + Duration::from_secs_f64(ms / 1000.0);
        loop {
            match self.pending_close_at() {
                Some(at) if at <= end => {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    self.close_now();
                }
                _ => {
                    std::thread::sleep(end.saturating_duration_since(Instant::now()));
                    return;
                }
            }
        }
    }

    /// The application's close (close_first): `close(Some(frame))` or `close(None)`.
    fn close_now(&mut self) {
        self.close_called = true;
        let Some(knob) = &self.knobs.close_first else {
            return;
        };
        let frame = knob.code.map(|code| CloseFrame {
            code: CloseCode::from(code),
            reason: knob.reason.clone().unwrap_or_default().into(),
        });
        self.obs
            .event_with("close_call", json!({"why": "knob", "code": knob.code}));
        if let Some(Err(err)) = self.close(frame) {
            self.obs.close_error(&err);
        }
    }

    /// A read or send failed with something other than a timeout: the end.
    fn on_error(&mut self, err: WsError) {
        self.ended = true;
        self.ended_by(&err);
        if self.obs.end.is_some() {
            // Receiving already ended (a Close message came first): only the fact.
            if self.obs.error.is_none() {
                self.obs.error = Some(ws_error(&err));
            }
            return;
        }
        if is_closed_signal(&err) {
            self.obs.event_with("closed", json!({"code": null}));
            self.obs.end("closed", Some(ws_error(&err)));
        } else {
            self.obs
                .event_with("error", json!({"type": error_type(&err)}));
            self.obs.end("error", Some(ws_error(&err)));
        }
    }

    fn on_close_message(&mut self, frame: Option<(u16, String)>) {
        self.peer_closed = true;
        let code = frame.as_ref().map(|(code, _)| *code);
        if self.obs.close.is_none() {
            self.obs.close = Some(Close::from_frame(frame));
            self.close_source = if self.close_called {
                "Message::Close after close()"
            } else {
                "Message::Close"
            };
        }
        self.obs.event_with("closed", json!({"code": code}));
        if self.obs.end.is_none() {
            self.obs.end("closed", None);
        }
    }

    // `.into()` is the identity up to 0.24 (Vec<u8>) and a conversion after.
    #[allow(clippy::useless_conversion)]
    fn send_knob(&mut self) {
        let items = std::mem::take(&mut self.knobs.send);
        for item in items {
            let (kind, message) = match item {
                SendItem::Text(text) => ("text", Message::text(text)),
                SendItem::Binary(bytes) => ("binary", Message::binary(bytes)),
                SendItem::Ping(bytes) => ("ping", Message::Ping(bytes.into())),
            };
            match self.send(message) {
                Some(Ok(())) => {
                    self.obs.event_with("send", json!({"kind": kind}));
                }
                Some(Err(err)) => {
                    self.on_error(err);
                    return;
                }
                None => return,
            }
        }
    }

    /// Wait for the next message the way the application does: one `read()`,
    /// bounded by recv_timeout_ms, interrupted only to close when due.
    /// None when receiving is over (the reason is recorded).
    fn next_message(&mut self) -> Option<Message> {
        let timeout_at =
            Instant::now() + Duration::from_secs_f64(self.knobs.recv_timeout_ms / 1000.0);
        loop {
            let mut until = timeout_at;
            if let Some(at) = self.pending_close_at() {
                until = until.min(at);
            }
            self.set_read_timeout(until.saturating_duration_since(Instant::now()));
            match self.read()? {
                Ok(message) => return Some(message),
                Err(err) if is_timeout(&err) => {
                    let now = Instant::now();
                    if self.pending_close_at().is_some_and(|at| at <= now) {
                        self.close_now();
                    } else if now >= timeout_at {
                        self.obs.event("timeout");
                        self.obs.end("timeout", None);
                        return None;
                    }
                }
                Err(err) => {
                    self.on_error(err);
                    return None;
                }
            }
        }
    }

    fn receive(&mut self) {
        if self.ended {
            return;
        }
        if self
            .knobs
            .close_first
            .as_ref()
            .and_then(|c| c.after_messages)
            == Some(0)
        {
            self.close_now();
        }
        if self.knobs.recv_delay_ms > 0.0 {
            self.idle(self.knobs.recv_delay_ms);
        }
        self.obs.event("recv_start");
        while !self.ended && !self.peer_closed {
            let Some(message) = self.next_message() else {
                return;
            };
            let (kind, bytes, text): (&str, &[u8], Option<&str>) = match &message {
                Message::Text(_) => {
                    let text = message.to_text().unwrap_or("");
                    ("text", text.as_bytes(), Some(text))
                }
                Message::Binary(payload) => ("binary", payload_bytes(payload), None),
                Message::Ping(payload) => {
                    let length = payload_bytes(payload).len();
                    self.obs.event_with("ping", json!({"length": length}));
                    continue;
                }
                Message::Pong(payload) => {
                    let length = payload_bytes(payload).len();
                    self.obs.event_with("pong", json!({"length": length}));
                    continue;
                }
                Message::Close(frame) => {
                    let frame = frame
                        .as_ref()
                        .map(|f| (u16::from(f.code), f.reason.to_string()));
                    self.on_close_message(frame);
                    return;
                }
                #[allow(unreachable_patterns)]
                _ => continue, // Message::Frame: never returned by read()
            };
            let t_ms = self
                .obs
                .event_with("message", json!({"type": kind, "length": bytes.len()}));
            self.obs
                .messages
                .push(Received::new(kind, bytes, text, t_ms));
            self.received += 1;
            if self.knobs.echo && !self.close_called {
                match self.send(message.clone()) {
                    Some(Ok(())) => {
                        self.obs.event_with("echo", json!({"type": kind}));
                    }
                    Some(Err(err)) => {
                        self.on_error(err);
                        return;
                    }
                    None => return,
                }
            }
            if self
                .knobs
                .close_first
                .as_ref()
                .and_then(|c| c.after_messages)
                == Some(self.received)
                && !self.close_called
            {
                self.close_now();
            }
            if self.received >= self.knobs.max_messages {
                self.obs.event("max_messages");
                self.obs.end("max_messages", None);
                return;
            }
            if self.knobs.recv_pace_ms > 0.0 {
                self.idle(self.knobs.recv_pace_ms);
            }
        }
    }

    /// After receiving: drive the closing handshake to its end, as
    /// tungstenite asks (keep calling read() until ConnectionClosed), first
    /// closing the connection if nobody has. Bounded by the job's deadline.
    fn finish(&mut self) {
        if !self.ended {
            if !self.peer_closed && !self.close_called {
                // The application is done: a normal closure (1000), as an
                // application says it; tungstenite has no default code.
                self.close_called = true;
                self.obs.event_with(
                    "close_call",
                    json!({"why": "end", "code": FINAL_CLOSE_CODE}),
                );
                let frame = CloseFrame {
                    code: CloseCode::from(FINAL_CLOSE_CODE),
                    reason: String::new().into(),
                };
                if let Some(Err(err)) = self.close(Some(frame)) {
                    self.obs.close_error(&err);
                }
            }
            while !self.ended {
                self.set_read_timeout(self.until_deadline());
                let Some(result) = self.read() else {
                    break;
                };
                match result {
                    Ok(Message::Close(frame)) => {
                        if self.obs.close.is_none() {
                            let frame = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                            self.obs.close = Some(Close::from_frame(frame));
                            self.close_source = "Message::Close after close()";
                        }
                    }
                    Ok(_) => {} // data after the application stopped receiving: not observed
                    Err(err) if is_closed_signal(&err) => {
                        self.ended_by(&err);
                        if self.peer_closed && self.obs.error.is_none() {
                            self.obs.error = Some(ws_error(&err));
                        }
                        break;
                    }
                    Err(err) if is_timeout(&err) => {
                        self.obs.event("close_timeout");
                        break;
                    }
                    Err(err) => {
                        self.ended_by(&err);
                        self.obs.close_error(&err);
                        break;
                    }
                }
            }
        }
        let source = self.close_source;
        self.obs.event_with("close_done", json!({"source": source}));
        if self.obs.clean.is_none() {
            self.obs.clean_source =
                Some("none: tungstenite had not reported the end when the job ended".to_string());
        }
    }
}

// ------------------------------------------------------------------ running a job

fn run_job(line: &str) -> Observation {
    let mut obs = Observation::new(Value::Null);
    match run_job_inner(line, &mut obs) {
        Ok(()) => {}
        Err(BadJob(why)) => {
            eprintln!("wsreplay adapter {ADAPTER}: bad job: {why}");
            obs.end = Some("adapter_error");
            obs.error = Some(error_info("BadJob", &format!("bad job: {why}")));
        }
    }
    obs.finish()
}

fn run_job_inner(line: &str, obs_slot: &mut Observation) -> Result<(), BadJob> {
    let job: Value =
        serde_json::from_str(line).map_err(|e| BadJob(format!("job line is not JSON: {e}")))?;
    obs_slot.id = job.get("id").cloned().unwrap_or(Value::Null);
    let job: Job = serde_json::from_value(job).map_err(|e| BadJob(format!("job: {e}")))?;
    let (knobs, unsupported) = parse_knobs(job.knobs)?;
    let url = job.url;
    let ca_file = job.ca_file;
    let deadline_ms = job
        .deadline_ms
        .map(|d| d.min(MAX_DEADLINE_MS))
        .filter(|d| *d > 0.0);
    if !unsupported.is_empty() {
        obs_slot.unsupported = unsupported;
        obs_slot.end = Some("unsupported");
        return Ok(());
    }

    // connect_start: every t_ms is measured from here.
    obs_slot.start();
    let deadline_total =
        deadline_ms.map_or(DEFAULT_DEADLINE, |ms| Duration::from_secs_f64(ms / 1000.0));
    let deadline = obs_slot.t0
        + deadline_total
            .saturating_sub(DEADLINE_MARGIN)
            .max(Duration::from_millis(200));

    let open_budget = deadline_total
        .saturating_sub(DEADLINE_MARGIN)
        .min(OPEN_TIMEOUT);
    let (ws, response) = match open(&url, &knobs, ca_file.as_deref(), open_budget) {
        Ok(pair) => pair,
        Err(ConnectError::Timeout(waited)) => {
            // A hang, not a refusal: the library neither connected nor refused.
            let waited_ms = waited.as_millis() as u64;
            obs_slot.event_with("connect_timeout", json!({"waited_ms": waited_ms}));
            obs_slot.end(
                "connect_timeout",
                Some(error_info(
                    "timeout",
                    &format!(
                        "the opening handshake had neither succeeded nor failed after {waited_ms} ms"
                    ),
                )),
            );
            return Ok(());
        }
        Err(ConnectError::Panic(panic, call)) => {
            obs_slot.crash(&panic, call);
            obs_slot.event_with("connect_failed", json!({"type": "panic"}));
            obs_slot.end("connect_failed", Some(panic_error(&panic)));
            return Ok(());
        }
        Err(failure) => {
            let (kind, error, status) = match failure {
                ConnectError::Ws(err) => {
                    let status = match &err {
                        WsError::Http(response) => Some(response.status().as_u16()),
                        _ => None,
                    };
                    (error_type(&err), ws_error(&err), status)
                }
                ConnectError::Other(error) => (error.kind.clone(), error, None),
                ConnectError::Timeout(_) | ConnectError::Panic(..) => unreachable!("handled above"),
            };
            obs_slot.event_with("connect_failed", json!({"type": kind}));
            obs_slot.end("connect_failed", Some(error));
            obs_slot.http_status = status;
            return Ok(());
        }
    };
    obs_slot.connected = true;
    let agreed = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    obs_slot.subprotocol = agreed;
    let opened = Instant::now();
    obs_slot.event("open");

    let sock = tcp_of(&ws).and_then(|s| s.try_clone().ok());
    if let Some(sock) = &sock {
        // A send may block on a peer that stopped reading; the deadline bounds it.
        let _ = sock.set_write_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_WAIT),
        ));
    }
    let close_at = knobs
        .close_first
        .as_ref()
        .and_then(|c| c.after_ms)
        .map(|ms| opened + Duration::from_secs_f64(ms / 1000.0));
    let obs = std::mem::replace(obs_slot, Observation::new(Value::Null));
    let mut session = Session {
        obs,
        knobs,
        ws,
        sock,
        deadline,
        close_at,
        close_called: false,
        peer_closed: false,
        ended: false,
        received: 0,
        close_source: "none",
    };
    session.send_knob();
    session.receive();
    session.finish();
    *obs_slot = session.obs;
    Ok(())
}

/// A job whose handling panicked (an adapter bug): reported, and the adapter goes on.
fn panicked_job(line: &str, panic: Box<dyn std::any::Any + Send>) -> Observation {
    let panic = take_panic(panic);
    let what = match &panic.location {
        Some(at) => format!("panicked at {at}: {}", panic.message),
        None => panic.message.clone(),
    };
    let id = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|job| job.get("id").cloned())
        .unwrap_or(Value::Null);
    let mut obs = Observation::new(id);
    obs.end = Some("adapter_error");
    obs.error = Some(error_info(
        "panic",
        &format!("the adapter panicked: {what}"),
    ));
    obs.finish()
}

// ------------------------------------------------------------------ main

struct Args {
    adapter: String,
    library_version: Option<String>,
    rustc: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        adapter: ADAPTER.to_string(),
        library_version: None,
        rustc: None,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--adapter" => args.adapter = value("--adapter")?,
            "--library-version" => args.library_version = Some(value("--library-version")?),
            "--rustc" => args.rustc = Some(value("--rustc")?),
            "-h" | "--help" => {
                return Err("usage: wsreplay-rust-tungstenite [--library-version V] [--rustc V] [--adapter NAME]\n\
                            then job lines on stdin (harness/adapters/README.md)"
                    .into())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn emit(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// WSREPLAY_ADAPTER_DEBUG=1: every event on stderr as it happens.
fn debug_enabled() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("WSREPLAY_ADAPTER_DEBUG").is_some_and(|v| !v.is_empty()))
}

fn main() {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // Kept for the job's observation: a panic inside tungstenite is its
        // crash (with this trace), one in the adapter's own code an adapter_error.
        let mut trace = std::backtrace::Backtrace::force_capture().to_string();
        if trace.len() > TRACE_LIMIT {
            let mut cut = TRACE_LIMIT;
            while !trace.is_char_boundary(cut) {
                cut -= 1;
            }
            trace.truncate(cut);
            trace.push_str("\n…");
        }
        let recorded = Panic {
            message: payload_text(info.payload()),
            location: info.location().map(|at| at.to_string()),
            trace: Some(trace),
        };
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(recorded);
        }
        default_hook(info); // the message and (with RUST_BACKTRACE) the backtrace on stderr
    }));
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(EXIT_USAGE);
        }
    };
    let language = match &args.rustc {
        Some(version) => format!("rust {version}"),
        None => "rust".to_string(),
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let ready = json!({
        "event": "ready",
        "adapter": args.adapter,
        "library": "tungstenite",
        "version": args.library_version.as_deref().unwrap_or("unknown"),
        "api": API,
        "language": language,
    });
    if emit(&mut out, &ready).is_err() {
        return;
    }
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match input.read_until(b'\n', &mut raw) {
            Ok(0) => return, // EOF: the harness is done with us
            Ok(_) => {}
            Err(e) => {
                eprintln!("wsreplay adapter {ADAPTER}: cannot read stdin: {e}");
                return;
            }
        }
        let line = String::from_utf8_lossy(&raw).trim().to_string();
        if line.is_empty() {
            continue;
        }
        let observation = panic::catch_unwind(AssertUnwindSafe(|| run_job(&line)))
            .unwrap_or_else(|panic| panicked_job(&line, panic));
        if emit(&mut out, &observation).is_err() {
            return; // stdout is gone: nobody is listening any more
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The knobs the harness sends for a scenario that sets none.
    fn complete_knobs() -> Map<String, Value> {
        let Value::Object(knobs) = json!({
            "recv_delay_ms": 0, "recv_pace_ms": 0, "recv_timeout_ms": 3000,
            "max_messages": 1000, "echo": false, "send": [], "close_first": null,
            "subprotocols": [],
        }) else {
            unreachable!()
        };
        knobs
    }

    fn parsed(changes: Value) -> Result<(Knobs, Vec<String>), String> {
        let mut knobs = complete_knobs();
        if let Value::Object(changes) = changes {
            knobs.extend(changes);
        }
        parse_knobs(knobs).map_err(|BadJob(why)| why)
    }

    #[test]
    fn knobs_are_read_as_sent() {
        let (knobs, unsupported) = parsed(json!({
            "recv_delay_ms": 100, "recv_timeout_ms": 2500.5, "max_messages": 3, "echo": true,
            "send": [{"text": "hi"}, {"hex": "00 ff"}, {"ping": "p"}],
            "close_first": {"code": null, "after_ms": 200}, "subprotocols": ["a", "b"],
        }))
        .unwrap();
        assert!(unsupported.is_empty());
        assert_eq!(
            (
                knobs.recv_delay_ms,
                knobs.recv_timeout_ms,
                knobs.max_messages
            ),
            (100.0, 2500.5, 3)
        );
        assert!(knobs.echo);
        assert!(matches!(
            &knobs.send[..],
            [SendItem::Text(t), SendItem::Binary(b), SendItem::Ping(p)]
                if t == "hi" && b == &[0, 0xff] && p == b"p"
        ));
        let close = knobs.close_first.unwrap();
        assert_eq!(
            (close.code, close.after_messages, close.after_ms),
            (None, None, Some(200.0))
        );
        assert_eq!(knobs.subprotocols, ["a", "b"]);
    }

    #[test]
    fn close_first_parts_keep_their_meaning() {
        let (knobs, _) = parsed(json!({"close_first": {}})).unwrap();
        let close = knobs.close_first.unwrap();
        assert_eq!(
            (close.code, close.reason, close.after_messages),
            (Some(1000), None, Some(0))
        );
        assert!(parsed(json!({"close_first": {"code": 1000, "when": 1}})).is_err());
    }

    #[test]
    fn unknown_knobs_and_send_kinds_are_unsupported() {
        let (_, unsupported) = parsed(json!({"zeta": 1, "alpha": "x", "off": false})).unwrap();
        assert_eq!(unsupported, ["alpha", "zeta"]);
        let (_, unsupported) = parsed(json!({"send": [{"nope": "x"}]})).unwrap();
        assert_eq!(unsupported, ["send"]);
    }

    #[test]
    fn compression_is_honoured_only_off() {
        for off in [json!("default"), json!("off"), Value::Null] {
            let (_, unsupported) = parsed(json!({ "compression": off })).unwrap();
            assert!(unsupported.is_empty());
        }
        for on in [
            json!("on"),
            json!({}),
            json!({"server_no_context_takeover": false}),
        ] {
            let (_, unsupported) = parsed(json!({ "compression": on })).unwrap();
            assert_eq!(unsupported, ["compression"]);
        }
    }

    #[test]
    fn a_missing_or_mistyped_knob_is_a_bad_job_that_names_it() {
        let mut knobs = complete_knobs();
        knobs.remove("echo");
        let Err(BadJob(why)) = parse_knobs(knobs) else {
            panic!("a job without echo was taken");
        };
        assert!(why.contains("echo"), "{why}");
        let why = parsed(json!({"max_messages": "many"})).err().unwrap();
        assert!(why.starts_with("knob max_messages: "), "{why}");
    }

    #[test]
    fn a_large_message_is_reported_by_its_sha256() {
        let large = vec![b'a'; INLINE_LIMIT + 1];
        let entry = serde_json::to_value(Received::new("binary", &large, None, 1.5)).unwrap();
        assert_eq!(
            entry,
            json!({"type": "binary", "length": 4097, "t_ms": 1.5,
                   "sha256": "4e369b5618643c3abddd027b650bfa54810be3b418028a7c9d82299a59d008e8"})
        );
        let small = serde_json::to_value(Received::new("text", b"hi", Some("hi"), 2.0)).unwrap();
        assert_eq!(
            small,
            json!({"type": "text", "length": 2, "text": "hi", "t_ms": 2.0})
        );
    }

    #[test]
    fn an_observation_has_every_field_of_the_contract() {
        let mut obs = Observation::new(json!("7"));
        obs.event_with("closed", json!({"code": null}));
        obs.close = Some(Close::not_observable());
        let line = serde_json::to_value(obs.finish()).unwrap();
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "clean",
                "clean_source",
                "close",
                "connected",
                "crash",
                "duration_ms",
                "end",
                "error",
                "events",
                "id",
                "messages",
                "subprotocol",
                "t0_unix_us",
                "unsupported"
            ]
        );
        assert_eq!(
            line["close"],
            json!({"code": null, "reason": null, "observable": false})
        );
        assert_eq!(line["events"][0]["event"], "closed");
        assert_eq!(line["events"][0]["code"], Value::Null);
    }
}
