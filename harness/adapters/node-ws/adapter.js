#!/usr/bin/env node
// wsreplay adapter for the `ws` npm package: new WebSocket(url, protocols, options).
//
// Speaks the contract in harness/adapters/README.md through the JavaScript
// kit, harness/adapters/js-common/: node-contract.js runs the process (the
// `ready` line, job lines in, observation lines out, crashes) and
// event-job.js the job (what the application does, the recorder). This file
// is ws's part: the constructor, its events, pause()/resume(). Uses only
// Node's standard library and `ws`, loaded from WSREPLAY_NODE_PACKAGE_DIR
// (the exact version the installer put there) or, by hand, from NODE_PATH.
//
// Choices that shape what the application "sees", and why:
//
// - Every WebSocket option keeps the library default (perMessageDeflate
//   offered, maxPayload 100 MiB, no handshake timeout, no redirects), as in an
//   application that did not tune them; only `ca` is set, for wss:// jobs, so
//   the run's CA is the one trusted root (Node's `ca` replaces the defaults),
//   and `perMessageDeflate` when the `compression` knob is not "default":
//   false for "off", true for "on", for an object ws's options of the same
//   names (serverNoContextTakeover, clientNoContextTakeover,
//   serverMaxWindowBits, clientMaxWindowBits; true for the last offers it
//   without a value). ws before 0.6.0 has no permessage-deflate: "on" and
//   objects are unsupported there.
// - ws delivers messages as events, so "the application has not asked for a
//   message yet" (recv_delay_ms) has to be the library's own flow control:
//   ws.pause() right after 'open', ws.resume() when the delay is over. That is
//   what an application that is not ready to read calls, and nothing is lost
//   by it. Attaching the 'message' listener only after the delay would be
//   the other reading, but ws then emits the messages to nobody: they would
//   be lost by the design of the event API, and a verdict about that would
//   say nothing about the library. ws.pause() stops reading the socket (the
//   bytes wait in the kernel), unlike a pull API whose background reader
//   keeps going; bytes ws had already read when pause() was called are still
//   parsed and emitted (ws documents this). pause()/resume() exist from ws
//   8.3.0; older versions report recv_delay_ms and recv_pace_ms unsupported.
// - recv_pace_ms: ws.pause() after each message, ws.resume() after the pace.
//   Messages ws emits while paused (they were in the same read) are reported
//   with "paused": true in their event, a fact about ws's buffering.
// - The adapter's own final close (after a timeout or max_messages) is a
//   normal closure, ws.close(1000), as every wsreplay adapter's is (what a
//   library does with no code is what close_first with code null tests); it
//   comes after resume() so the closing handshake can be read, and waits for
//   'close' until the job's deadline, then ws.terminate(). close_first calls
//   ws.close(code, reason) (ws.close() for code null) exactly as asked; if ws
//   refuses the code it throws, and that is reported as a close_error event.
// - close: the code and reason of the 'close' event (ws reports 1006 and ""
//   for an abnormal closure, 1005 for a close frame without a code).

'use strict'

const fs = require('node:fs')
const path = require('node:path')
const contract = require('../js-common/node-contract.js')
const { BadJob } = require('../js-common/recorder.js')
const eventJob = require('../js-common/event-job.js')

const ADAPTER = 'node-ws'

function loadLibrary () {
  const { main: WebSocket, version, dir } = contract.loadPackage('ws')
  const canPause = typeof WebSocket === 'function' &&
    typeof WebSocket.prototype.pause === 'function' &&
    typeof WebSocket.prototype.resume === 'function'
  // permessage-deflate came in ws 0.6.0 (lib/PerMessageDeflate.js, from
  // 3.0 lib/permessage-deflate.js): before it ws offers nothing and has no
  // perMessageDeflate option.
  const canDeflate = ['PerMessageDeflate.js', 'permessage-deflate.js']
    .some((name) => fs.existsSync(path.join(dir, 'lib', name)))
  return { WebSocket, version, canPause, canDeflate }
}

// The perMessageDeflate option for the `compression` knob (undefined: leave
// ws's default, which is true: offer). An object maps each parameter to
// ws's option of that name; one absent stays ws's default (for
// clientMaxWindowBits: the parameter offered without a value).
const DEFLATE_OPTIONS = {
  server_no_context_takeover: 'serverNoContextTakeover',
  client_no_context_takeover: 'clientNoContextTakeover',
  server_max_window_bits: 'serverMaxWindowBits',
  client_max_window_bits: 'clientMaxWindowBits'
}

function perMessageDeflate (value) {
  if (value === 'default') return undefined
  if (value === 'off') return false
  if (value === 'on') return true
  const options = {}
  for (const key of Object.keys(value)) options[DEFLATE_OPTIONS[key]] = value[key]
  return options
}

// ws's part of a job (the interface is in js-common/event-job.js).
function library (lib) {
  return {
    words: { closeEvent: "'close' event", openWait: "'open'" },
    errorInfo: contract.errorInfo,
    unsupported (knobs) {
      const names = []
      // ws before 0.6.0 never offers permessage-deflate: "off" is what it does anyway.
      if (!lib.canDeflate && knobs.compression !== 'default' && knobs.compression !== 'off') {
        names.push('compression')
      }
      if (lib.canPause) return names
      // ws before 8.3.0 has no pause(): no way to hold messages back (see the header).
      if (knobs.recv_delay_ms > 0) names.push('recv_delay_ms')
      if (knobs.recv_pace_ms > 0) names.push('recv_pace_ms')
      return names
    },
    connect (job, knobs, run) {
      const options = {}
      try {
        if (job.url.startsWith('wss:') && job.ca_file) options.ca = fs.readFileSync(job.ca_file)
      } catch (err) {
        throw new BadJob(`cannot read ca_file ${job.ca_file}: ${err.message}`)
      }
      const deflate = lib.canDeflate ? perMessageDeflate(knobs.compression) : undefined
      if (deflate !== undefined) options.perMessageDeflate = deflate
      const ws = new lib.WebSocket(job.url, knobs.subprotocols, options)
      return socket(ws, run, lib.WebSocket)
    }
  }
}

function socket (ws, run, WebSocket) {
  const { rec, later, on } = run
  let paused = false

  // pause()/resume(): ws 0.x-3.x throw 'not opened' unless the socket is
  // OPEN (e.g. once a close began); that is the application's own call
  // failing, recorded, not a crash.
  const flow = (name) => {
    try {
      ws[name]()
    } catch (err) {
      rec.event(`${name}_error`, contract.errorInfo(err))
    }
  }
  const resume = () => {
    if (paused) { flow('resume'); paused = false }
  }

  // How ws says whether the closure was clean: the CloseEvent's wasClean
  // for a listener added with addEventListener (ws 1.0+ sets it from "a
  // close frame was received and one sent"); with no such listener API,
  // not told (null).
  let wasClean = null
  const cleanInfo = () => {
    if (typeof ws.addEventListener !== 'function') {
      return { clean: null, cleanSource: 'none: this ws has no addEventListener (no CloseEvent)' }
    }
    if (wasClean === null) return { clean: null, cleanSource: 'none: the CloseEvent has no wasClean' }
    return { clean: wasClean, cleanSource: 'CloseEvent.wasClean (addEventListener)' }
  }

  // first, so that wasClean is known when the 'close' listener runs
  if (typeof ws.addEventListener === 'function') {
    ws.addEventListener('close', (ev) => {
      if (ev && typeof ev.wasClean === 'boolean') wasClean = ev.wasClean
    })
  }
  ws.on('open', () => on.open())
  ws.on('message', (data, isBinary) => {
    // ws 8 passes (Buffer, isBinary); ws 7 a string for text, a Buffer for binary.
    let msg
    if (typeof data === 'string') {
      msg = { text: data }
    } else {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data)
      msg = isBinary === false ? { text: bytes.toString('utf8') } : { bytes }
    }
    // Messages ws emits while paused were in the same read: a fact about its buffering.
    on.message(msg, paused ? { paused: true } : {})
  })
  ws.on('error', (err) => {
    const info = contract.errorInfo(err)
    // ws 3+: "Unexpected server response: 403"; ws 0.x-2.x: "unexpected server response (403)"
    const status = /unexpected server response:? \(?(\d+)/i.exec(info.message)
    if (status) rec.data.http_status = Number(status[1])
    on.error(info)
  })
  ws.on('close', (code, reason) => {
    const text = Buffer.isBuffer(reason) ? reason.toString('utf8') : String(reason || '')
    on.close(Object.assign({ code, reason: text, fields: {} }, cleanInfo()))
  })

  return {
    protocol: () => ws.protocol,
    send (kind, value, late) {
      const sent = (err) => { if (err) late(contract.errorInfo(err)) }
      if (kind === 'text') ws.send(value, sent)
      else if (kind === 'hex') ws.send(Buffer.from(value, 'hex'), { binary: true }, sent)
      else ws.ping(Buffer.from(value, 'utf8'), undefined, sent)
    },
    echo (msg, late) {
      const sent = (err) => { if (err) late(contract.errorInfo(err)) }
      if (msg.text !== undefined) ws.send(msg.text, sent)
      else ws.send(msg.bytes, { binary: true }, sent)
    },
    close (code, reason) {
      if (code === null) ws.close()
      else if (reason === undefined) ws.close(code)
      else ws.close(code, reason)
    },
    // ws.pause() stops reading the socket; resume() when the time is up
    hold (ms, then) {
      if (!paused) { flow('pause'); paused = true }
      later(ms, () => { resume(); then() })
    },
    isClosed: () => ws.readyState === WebSocket.CLOSED,
    beforeStop: resume, // the closing handshake must be readable
    closeTimedOut: () => ws.terminate(), // 'close' follows at once
    abandon: () => ws.terminate(), // 'close' follows (ws 8: and an 'error')
    release () {
      ws.removeAllListeners()
      ws.on('error', () => {}) // late errors of a socket being torn down
      if (ws.readyState !== WebSocket.CLOSED) ws.terminate()
    }
  }
}

function main () {
  let lib
  try {
    lib = loadLibrary()
  } catch (err) {
    return contract.refuse(ADAPTER, null, `cannot load ws: ${err.message}`)
  }
  if (typeof lib.WebSocket !== 'function') {
    return contract.refuse(ADAPTER, lib.version, `ws ${lib.version} does not export a WebSocket class`)
  }
  const host = { current: null }
  const ws = library(lib)
  contract.serve({
    ready: {
      adapter: ADAPTER,
      library: 'ws',
      version: lib.version,
      api: 'new WebSocket(url, protocols, options) from ws' + (lib.canPause ? '' : ' (no pause/resume)')
    },
    host,
    runJob: (job) => eventJob.runJob(job, host, ws)
  })
}

main()
