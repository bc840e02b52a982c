#!/usr/bin/env node
// wsreplay adapter for the `ws` npm package: new WebSocket(url, protocols, options).
//
// Speaks the contract in harness/adapters/README.md: a `ready` (or
// `unsupported`) line, then one observation line on stdout per job line on
// stdin. Uses only Node's standard library and `ws`, loaded from
// WSREPLAY_NODE_PACKAGE_DIR (the exact version the installer put there) or,
// by hand, from NODE_PATH.
//
// Choices that shape what the application "sees", and why:
//
// - Every WebSocket option keeps the library default (perMessageDeflate
//   offered, maxPayload 100 MiB, no handshake timeout, no redirects), as in an
//   application that did not tune them; only `ca` is set, for wss:// jobs, so
//   the run's CA is the one trusted root (Node's `ca` replaces the defaults).
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
//
// Nothing but contract lines reaches stdout: process.stdout.write is sent to
// stderr after the contract's writer has been kept aside.

'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')
const { performance } = require('node:perf_hooks')

const ADAPTER = 'node-ws'
const EXIT_UNSUPPORTED = 3
const INLINE_LIMIT = 4096
const OPEN_TIMEOUT_MS = 10000
const DEADLINE_MARGIN_MS = 500
// After an 'error' before 'open', how long to wait for the 'close' that
// normally follows at once (for its code) before reporting the refusal.
const CLOSE_AFTER_ERROR_MS = 250
const KNOB_DEFAULTS = {
  recv_delay_ms: 0,
  recv_pace_ms: 0,
  recv_timeout_ms: 3000,
  max_messages: 1000,
  echo: false,
  send: [],
  close_first: null,
  subprotocols: []
}

// ---------------------------------------------------------------- output

const contractWrite = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
console.log = console.error

function emit (obj) {
  contractWrite(JSON.stringify(obj) + '\n')
}

function errorInfo (err) {
  if (err === null || err === undefined) return { type: 'undefined', message: '' }
  const type = (err.constructor && err.constructor.name) || typeof err
  let message = String(err.message !== undefined ? err.message : err)
  if (err.code) message = `[${err.code}] ${message}`
  return { type, message }
}

function describe (isText, buf, text) {
  if (isText) {
    const length = Buffer.byteLength(text, 'utf8')
    if (length <= INLINE_LIMIT) return { type: 'text', length, text }
    const sha256 = crypto.createHash('sha256').update(text, 'utf8').digest('hex')
    return { type: 'text', length, sha256 }
  }
  if (buf.length <= INLINE_LIMIT) return { type: 'binary', length: buf.length, hex: buf.toString('hex') }
  return { type: 'binary', length: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') }
}

// ---------------------------------------------------------------- the library

class Unsupported extends Error {}
class BadJob extends Error {}

function loadLibrary () {
  const dir = process.env.WSREPLAY_NODE_PACKAGE_DIR
  const main = dir || require.resolve('ws')
  const pkgDir = dir || findPackageDir(path.dirname(main))
  const WebSocket = require(main)
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version
  if (typeof WebSocket !== 'function') {
    throw new Unsupported(`ws ${version} does not export a WebSocket class`)
  }
  const canPause = typeof WebSocket.prototype.pause === 'function' &&
    typeof WebSocket.prototype.resume === 'function'
  return { WebSocket, version, canPause }
}

function findPackageDir (dir) {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d
  }
  throw new Error(`no package.json above ${dir}`)
}

// ---------------------------------------------------------------- jobs

// The job running now, so that an exception thrown where the application
// cannot catch it ends that job as a fact (the observation's `crash`: in an
// application it would kill the process) instead of killing the adapter.
let current = null

const crash = (hook) => (err) => {
  console.error(`${hook}:`, err)
  if (current) current(err, crashOrigin(hook, err))
  else console.error('(no job running: reported on stderr only)')
}

// Where an exception nobody caught came from: `where` is the process hook
// that caught it, or "'error' event with no listener" when Node threw it
// because an emitter had no 'error' listener (Node marks such errors with a
// symbol of its own, or wraps a non-Error as ERR_UNHANDLED_ERROR); `at` is
// the first frame of its stack. (node-undici has the same function.)
function crashOrigin (hook, err) {
  const marked = err !== null && typeof err === 'object' &&
    Object.getOwnPropertySymbols(err).some((s) => s.description === 'kEnhanceStackBeforeInspector')
  const unheard = marked || (err && err.code === 'ERR_UNHANDLED_ERROR')
  const frame = err && typeof err.stack === 'string'
    ? err.stack.split('\n').find((l) => /^\s+at /.test(l))
    : null
  return {
    where: unheard ? `'error' event with no listener (${hook})` : hook,
    at: frame ? frame.trim().replace(/^at /, '') : null
  }
}

function parseJob (line, lib) {
  let job
  try {
    job = JSON.parse(line)
  } catch (err) {
    throw new BadJob(`job line is not JSON: ${err.message}: ${line.slice(0, 200)}`)
  }
  if (job === null || typeof job !== 'object' || Array.isArray(job)) {
    throw new BadJob(`job line is not a JSON object: ${line.slice(0, 200)}`)
  }
  if (typeof job.url !== 'string' || !job.url) throw new BadJob("job has no 'url' string")
  const raw = job.knobs || {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadJob("job 'knobs' is not an object")
  const knobs = { ...KNOB_DEFAULTS }
  const unsupported = []
  for (const [name, value] of Object.entries(raw)) {
    if (name in KNOB_DEFAULTS) {
      if (value !== null) knobs[name] = value
    } else if (value !== null && value !== false) {
      unsupported.push(name) // unknown and not "off": it must not be ignored
    }
  }
  for (const name of ['recv_delay_ms', 'recv_pace_ms', 'recv_timeout_ms', 'max_messages']) {
    if (typeof knobs[name] !== 'number' || !(knobs[name] >= 0)) {
      throw new BadJob(`knob ${name} must be a number >= 0, got ${JSON.stringify(knobs[name])}`)
    }
  }
  if (typeof knobs.echo !== 'boolean') throw new BadJob('knob echo must be a boolean')
  if (!Array.isArray(knobs.send)) throw new BadJob('knob send must be a list')
  for (const item of knobs.send) {
    const kinds = item && typeof item === 'object' ? Object.keys(item) : []
    if (kinds.length !== 1 || !['text', 'hex', 'ping'].includes(kinds[0]) ||
        typeof item[kinds[0]] !== 'string') {
      throw new BadJob(`knob send: bad item ${JSON.stringify(item)}`)
    }
  }
  if (!Array.isArray(knobs.subprotocols)) throw new BadJob('knob subprotocols must be a list')
  const cf = knobs.close_first
  if (cf !== null && (typeof cf !== 'object' || Array.isArray(cf))) {
    throw new BadJob('knob close_first must be an object or null')
  }
  if (!lib.canPause) {
    // ws before 8.3.0 has no pause(): no way to hold messages back (see the header).
    if (knobs.recv_delay_ms > 0) unsupported.push('recv_delay_ms')
    if (knobs.recv_pace_ms > 0) unsupported.push('recv_pace_ms')
  }
  const deadline = typeof job.deadline_ms === 'number' && job.deadline_ms > 0 ? job.deadline_ms : null
  return { job, knobs, unsupported: unsupported.sort(), deadline }
}

class Observation {
  constructor (id) {
    this.t0 = performance.now()
    this.data = {
      id,
      connected: false,
      messages: [],
      close: null,
      end: null,
      error: null,
      unsupported: [],
      subprotocol: null,
      http_status: null,
      clean: null,
      clean_source: null,
      crash: null,
      t0_unix_us: null,
      events: [],
      duration_ms: 0
    }
  }

  start () {
    this.t0 = performance.now()
    // wall-clock µs of connect_start, from the same clock as t_ms
    this.data.t0_unix_us = Math.round((performance.timeOrigin + this.t0) * 1000)
    this.data.events.push({ t_ms: 0, event: 'connect_start' })
  }

  now () {
    return Math.round((performance.now() - this.t0) * 1000) / 1000
  }

  event (name, fields) {
    const t = this.now()
    this.data.events.push({ t_ms: t, event: name, ...fields })
    return t
  }

  finish () {
    this.data.duration_ms = this.now()
    return this.data
  }
}

// One job against the library, as an event-driven application would run it.
function drive (lib, parsed, obs) {
  const { job, knobs, deadline } = parsed
  const cf = knobs.close_first
  return new Promise((resolve) => {
    let ws = null
    let ended = false // receiving is over (the adapter stopped or the library ended)
    let done = false
    let paused = false
    let received = 0
    let error = null
    const timers = new Set()

    const later = (ms, fn) => {
      const t = setTimeout(() => { timers.delete(t); fn() }, Math.max(0, ms))
      timers.add(t)
      return t
    }
    const cancel = (t) => { if (t) { clearTimeout(t); timers.delete(t) } }
    const budget = () => deadline === null
      ? 10000
      : Math.max(200, deadline - obs.now() - DEADLINE_MARGIN_MS)

    let recvTimer = null
    const armRecvTimer = () => {
      cancel(recvTimer)
      recvTimer = later(knobs.recv_timeout_ms, () => {
        obs.event('timeout')
        stop('timeout')
      })
    }

    const finish = () => {
      if (done) return
      done = true
      current = null
      for (const t of timers) clearTimeout(t)
      timers.clear()
      if (error && !obs.data.error) obs.data.error = error
      if (obs.data.clean_source === null && ws) obs.data.clean_source = "none: no 'close' event before the job ended"
      if (ws) {
        ws.removeAllListeners()
        ws.on('error', () => {}) // late errors of a socket being torn down
        if (ws.readyState !== lib.WebSocket.CLOSED) ws.terminate()
      }
      resolve()
    }

    // The adapter ends receiving itself (timeout, max_messages, deadline):
    // close as an application would, wait for the library's 'close'.
    const stop = (how) => {
      if (ended) return
      ended = true
      obs.data.end = how
      cancel(recvTimer)
      if (!ws || ws.readyState === lib.WebSocket.CLOSED) return finish()
      if (paused) flow('resume') // the closing handshake must be readable
      paused = false
      obs.event('close_call', { by: 'adapter', why: 'end', code: 1000 })
      try {
        ws.close(1000)
      } catch (err) {
        obs.event('close_error', errorInfo(err))
      }
      later(budget(), () => {
        obs.event('close_timeout')
        ws.terminate() // 'close' follows at once
      })
    }

    // pause()/resume(): ws 0.x-3.x throw 'not opened' unless the socket is
    // OPEN (e.g. once a close began); that is the application's own call
    // failing, recorded, not a crash.
    const flow = (name) => {
      try {
        ws[name]()
      } catch (err) {
        obs.event(`${name}_error`, errorInfo(err))
      }
    }

    const closeFirst = () => {
      const code = cf.code === undefined ? null : cf.code
      const reason = typeof cf.reason === 'string' ? cf.reason : ''
      obs.event('close_call', { by: 'close_first', why: 'knob', code, reason })
      try {
        if (code === null) ws.close()
        else ws.close(code, reason)
      } catch (err) {
        obs.event('close_error', errorInfo(err))
      }
    }

    const startReceiving = () => {
      if (paused) { flow('resume'); paused = false }
      obs.event('recv_start')
      armRecvTimer()
    }

    const onOpen = () => {
      cancel(openTimer)
      obs.data.connected = true
      obs.data.subprotocol = ws.protocol || null
      obs.event('open', { subprotocol: ws.protocol || null })
      if (knobs.recv_delay_ms > 0) { flow('pause'); paused = true }
      for (const item of knobs.send) {
        const [kind, value] = Object.entries(item)[0]
        const sent = (err) => { if (err) obs.event('send_error', { kind, ...errorInfo(err) }) }
        try {
          if (kind === 'text') ws.send(value, sent)
          else if (kind === 'hex') ws.send(Buffer.from(value, 'hex'), { binary: true }, sent)
          else ws.ping(Buffer.from(value, 'utf8'), undefined, sent)
          obs.event('send', { kind: kind === 'hex' ? 'binary' : kind })
        } catch (err) {
          obs.event('send_error', { kind, ...errorInfo(err) })
        }
      }
      if (cf && cf.after_messages === 0) closeFirst()
      if (cf && typeof cf.after_ms === 'number') later(cf.after_ms, closeFirst)
      if (knobs.recv_delay_ms > 0) later(knobs.recv_delay_ms, startReceiving)
      else startReceiving()
    }

    const onMessage = (data, isBinary) => {
      if (ended) return // the application stopped receiving
      // ws 8 passes (Buffer, isBinary); ws 7 a string for text, a Buffer for binary.
      let isText, buf, text
      if (typeof data === 'string') {
        isText = true
        text = data
      } else {
        buf = Buffer.isBuffer(data) ? data : Buffer.from(data)
        isText = isBinary === false
        if (isText) text = buf.toString('utf8')
      }
      const entry = describe(isText, buf, text)
      const fields = { type: entry.type, length: entry.length }
      if (paused) fields.paused = true
      entry.t_ms = obs.event('message', fields)
      obs.data.messages.push(entry)
      received += 1
      cancel(recvTimer)
      if (received >= knobs.max_messages) {
        obs.event('max_messages')
        return stop('max_messages')
      }
      if (knobs.echo) {
        const sent = (err) => { if (err) obs.event('echo_error', errorInfo(err)) }
        try {
          if (isText) ws.send(text, sent)
          else ws.send(buf, { binary: true }, sent)
          obs.event('echo', { type: entry.type })
        } catch (err) {
          obs.event('echo_error', errorInfo(err))
        }
      }
      if (cf && cf.after_messages === received) closeFirst()
      if (knobs.recv_pace_ms > 0) {
        if (!paused) { flow('pause'); paused = true }
        later(knobs.recv_pace_ms, () => {
          if (ended) return
          flow('resume')
          paused = false
          armRecvTimer()
        })
      } else {
        armRecvTimer()
      }
    }

    const onError = (err) => {
      const info = errorInfo(err)
      obs.event('error', info)
      if (!error) error = info
      // ws 3+: "Unexpected server response: 403"; ws 0.x-2.x: "unexpected server response (403)"
      const status = /unexpected server response:? \(?(\d+)/i.exec(info.message)
      if (status) obs.data.http_status = Number(status[1])
      if (!obs.data.connected && !ended) {
        // ws refused the handshake: that is the fact, now. Its 'close'
        // normally follows at once (ws 0.x-1.x may not send one): wait a
        // moment for it, not for the open timeout.
        cancel(openTimer)
        later(CLOSE_AFTER_ERROR_MS, () => {
          obs.event('no_close_after_error', { waited_ms: CLOSE_AFTER_ERROR_MS })
          ended = true
          obs.data.end = 'connect_failed'
          finish()
        })
      }
    }

    // How ws says whether the closure was clean: the CloseEvent's wasClean
    // for a listener added with addEventListener (ws 1.0+ sets it from "a
    // close frame was received and one sent"); with no such listener API,
    // not told (null).
    let wasClean = null
    const onCloseEvent = (ev) => {
      if (ev && typeof ev.wasClean === 'boolean') wasClean = ev.wasClean
    }

    const recordClean = () => {
      if (typeof ws.addEventListener !== 'function') {
        obs.data.clean_source = 'none: this ws has no addEventListener (no CloseEvent)'
      } else if (wasClean === null) {
        obs.data.clean_source = 'none: the CloseEvent has no wasClean'
      } else {
        obs.data.clean = wasClean
        obs.data.clean_source = 'CloseEvent.wasClean (addEventListener)'
      }
    }

    const onClose = (code, reason) => {
      const text = Buffer.isBuffer(reason) ? reason.toString('utf8') : String(reason || '')
      recordClean()
      if (!obs.data.connected) {
        if (ended) return finish() // after the adapter's connect timeout
        obs.event('connect_failed', { code })
        ended = true
        obs.data.end = 'connect_failed'
        return finish()
      }
      obs.event('closed', { code })
      if (!ended) {
        ended = true
        obs.data.end = 'closed'
      }
      obs.data.close = { code, reason: text }
      obs.event('close_done', { source: "'close' event" })
      finish()
    }

    current = (err, origin) => {
      const info = errorInfo(err)
      obs.data.crash = { ...origin, ...info }
      obs.event('crash', obs.data.crash)
      if (!error) error = info
      if (!ended) {
        ended = true
        obs.data.end = 'error'
      }
      finish()
    }
    obs.start()
    const protocols = knobs.subprotocols
    const options = {}
    try {
      if (job.url.startsWith('wss:') && job.ca_file) options.ca = fs.readFileSync(job.ca_file)
    } catch (err) {
      throw new BadJob(`cannot read ca_file ${job.ca_file}: ${err.message}`)
    }
    try {
      ws = new lib.WebSocket(job.url, protocols, options)
    } catch (err) {
      error = errorInfo(err)
      obs.event('connect_failed', error)
      obs.data.end = 'connect_failed'
      return finish()
    }
    // first, so that wasClean is known when onClose runs
    if (typeof ws.addEventListener === 'function') ws.addEventListener('close', onCloseEvent)
    ws.on('open', onOpen)
    ws.on('message', onMessage)
    ws.on('error', onError)
    ws.on('close', onClose)
    // Neither 'open' nor a refusal in time: the adapter gives up (end
    // "connect_timeout", not a refusal: ws did not refuse anything).
    const openTimer = later(Math.min(OPEN_TIMEOUT_MS, Math.max(1000, budget() - 1000)), () => {
      obs.event('connect_timeout', { waited_ms: Math.round(obs.now()) })
      if (!error) error = { type: 'timeout', message: `no 'open' after ${Math.round(obs.now())} ms` }
      ended = true
      obs.data.end = 'connect_timeout'
      ws.terminate() // 'close' follows (ws 8: and an 'error')
      later(500, finish)
    })
    if (deadline !== null) {
      // Last resort: whatever the library does, the observation gets out in time.
      later(deadline - DEADLINE_MARGIN_MS, () => {
        obs.event('deadline')
        if (!ended) {
          ended = true
          obs.data.end = obs.data.connected ? 'timeout' : 'connect_timeout'
        }
        finish()
      })
    }
  })
}

async function runJob (line, lib) {
  let obs = null
  let id = null
  try {
    const parsed = parseJob(line, lib)
    id = parsed.job.id === undefined ? null : parsed.job.id
    obs = new Observation(id)
    if (parsed.unsupported.length) {
      obs.data.unsupported = parsed.unsupported
      obs.data.end = 'unsupported'
      return obs.finish()
    }
    await drive(lib, parsed, obs)
    return obs.finish()
  } catch (err) {
    console.error(`adapter error on job ${JSON.stringify(id)}:`, err)
    if (id === null) {
      try { id = JSON.parse(line).id } catch (_) {}
    }
    const failed = obs || new Observation(id === undefined ? null : id)
    failed.data.end = 'adapter_error'
    failed.data.error = {
      type: (err && err.constructor && err.constructor.name) || 'Error',
      message: err instanceof BadJob ? `bad job: ${err.message}` : String((err && err.stack) || err)
    }
    return failed.finish()
  }
}

function main () {
  let lib
  try {
    lib = loadLibrary()
  } catch (err) {
    emit({ event: 'unsupported', adapter: ADAPTER, version: null, reason: `cannot load ws: ${err.message}` })
    process.exitCode = EXIT_UNSUPPORTED
    return
  }
  emit({
    event: 'ready',
    adapter: ADAPTER,
    library: 'ws',
    version: lib.version,
    api: 'new WebSocket(url, protocols, options) from ws' + (lib.canPause ? '' : ' (no pause/resume)'),
    language: `node ${process.versions.node}`
  })
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  // Jobs run one at a time, in order; EOF on stdin ends the process once the
  // last observation is out.
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  let queue = Promise.resolve()
  rl.on('line', (line) => {
    if (!line.trim()) return
    queue = queue.then(() => runJob(line.trim(), lib)).then(emit)
  })
  rl.on('close', () => {
    queue.then(() => process.exit(0))
  })
}

main()
