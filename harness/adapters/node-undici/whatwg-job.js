// One wsreplay job driven through a WHATWG WebSocket (the browser API).
//
// Shared by two adapters: node-undici (undici's WebSocket, in Node) and
// chromium (the browser's own WebSocket; the page loads this very file).
// It runs one job as an application written against the WHATWG API would and
// returns the observation of the contract (harness/adapters/README.md). It
// uses nothing but what both environments have: WebSocket (given by the
// host), TextEncoder, crypto.subtle, setTimeout, performance.
//
// The host passes what differs between environments:
//   open(url, protocols, job)  -> a new WebSocket (the host adds TLS trust)
//   block(ms)                  synchronous wait: nothing else runs meanwhile
//   ping(ws, bytes) | null     a library's ping extension, if it has one
//   errorInfo(event)           {type, message} of an 'error' event
// and gets `host.current` while a job runs: current.crash(err, {where, at})
// ends the job with an exception the host caught outside the application's
// reach (the observation's `crash`: type, message, where, at).
//
// The WHATWG API has no pause and no receive call: messages are dispatched
// as events as soon as the implementation has them. So "the application has
// not asked for a message yet" (recv_delay_ms) and "a slow reader"
// (recv_pace_ms) are honoured the one way that neither loses messages nor
// changes the library: the application is busy. The host's block(ms) holds
// the JavaScript thread right after 'open' (after `send`) and after each
// message; no event can be dispatched to the application while it holds.
// What the implementation does underneath meanwhile is its own business (a
// browser keeps reading in its network process; undici reads on the same
// thread, so it stops reading the socket too). Attaching the listener late
// would be the other reading, but then the API would drop every message
// dispatched before, by design, and that says nothing about the library.

(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory()
  else root.wsreplayWhatwg = factory()
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict'

  const INLINE_LIMIT = 4096
  const OPEN_TIMEOUT_MS = 10000
  const DEADLINE_MARGIN_MS = 500
  // After an 'error' event while CONNECTING the API promises a 'close' event
  // right behind it (WHATWG "fail the WebSocket connection"). The job waits
  // this long for it, for its code and wasClean, then reports the refusal
  // anyway: some implementations never send it (undici 5.x after a failed
  // TLS handshake), and waiting for the open timeout instead made every
  // such refusal look like a hang and cost seconds.
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

  class BadJob extends Error {}

  // ------------------------------------------------------------ helpers

  function hex (bytes) {
    let out = ''
    for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, '0')
    return out
  }

  function fromHex (text) {
    const clean = text.replace(/\s+/g, '')
    if (clean.length % 2 || /[^0-9a-fA-F]/.test(clean)) throw new BadJob(`bad hex ${text}`)
    const out = new Uint8Array(clean.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16)
    return out
  }

  async function sha256 (bytes) {
    return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))
  }

  function exceptionInfo (err) {
    const type = (err && err.name && err.name !== 'Error' ? err.name : null) ||
      (err && err.constructor && err.constructor.name) || typeof err
    return { type, message: String(err && err.message !== undefined ? err.message : err) }
  }

  // ------------------------------------------------------------ the job

  function parseJob (job, host) {
    if (job === null || typeof job !== 'object' || Array.isArray(job)) {
      throw new BadJob('job is not a JSON object')
    }
    if (typeof job.url !== 'string' || !job.url) throw new BadJob("job has no 'url' string")
    const raw = job.knobs || {}
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadJob("job 'knobs' is not an object")
    const knobs = Object.assign({}, KNOB_DEFAULTS)
    const unsupported = []
    for (const name of Object.keys(raw)) {
      const value = raw[name]
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
      if (kinds.length !== 1 || ['text', 'hex', 'ping'].indexOf(kinds[0]) < 0 ||
          typeof item[kinds[0]] !== 'string') {
        throw new BadJob(`knob send: bad item ${JSON.stringify(item)}`)
      }
      if (kinds[0] === 'ping' && !host.ping) unsupported.push('send') // no ping in the API
    }
    if (!Array.isArray(knobs.subprotocols)) throw new BadJob('knob subprotocols must be a list')
    const cf = knobs.close_first
    if (cf !== null) {
      if (typeof cf !== 'object' || Array.isArray(cf)) throw new BadJob('knob close_first must be an object')
      const code = cf.code === undefined ? null : cf.code
      // The API lets an application close with 1000 or 3000-4999 only; close()
      // throws InvalidAccessError for any other code.
      if (code !== null && code !== 1000 && !(code >= 3000 && code <= 4999)) {
        unsupported.push('close_first')
      }
    }
    const deadline = typeof job.deadline_ms === 'number' && job.deadline_ms > 0 ? job.deadline_ms : null
    return { knobs, unsupported: Array.from(new Set(unsupported)).sort(), deadline }
  }

  function newObservation (id) {
    return {
      id: id === undefined ? null : id,
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

  // Wall-clock microseconds since the Unix epoch, from the same monotonic
  // clock as t_ms (performance.timeOrigin is the wall-clock time of its 0).
  function unixMicros () {
    return Math.round((performance.timeOrigin + performance.now()) * 1000)
  }

  // Runs one job; resolves to its observation. Never rejects: a bad job or a
  // bug here becomes end "adapter_error" with the details.
  async function runJob (job, host) {
    let t0 = performance.now()
    const id = job && typeof job === 'object' ? job.id : null
    const obs = newObservation(id)
    const now = () => Math.round((performance.now() - t0) * 1000) / 1000
    const event = (name, fields) => {
      const t = now()
      obs.events.push(Object.assign({ t_ms: t, event: name }, fields || {}))
      return t
    }
    try {
      const parsed = parseJob(job, host)
      if (parsed.unsupported.length) {
        obs.unsupported = parsed.unsupported
        obs.end = 'unsupported'
      } else {
        t0 = performance.now()
        obs.t0_unix_us = unixMicros()
        const pending = await drive(job, parsed, host, obs, event, now)
        await Promise.all(pending.map(async ([entry, bytes]) => { entry.sha256 = await sha256(bytes) }))
      }
    } catch (err) {
      obs.end = 'adapter_error'
      obs.error = {
        type: exceptionInfo(err).type,
        message: err instanceof BadJob ? `bad job: ${err.message}` : String((err && err.stack) || err)
      }
    }
    obs.duration_ms = now()
    return obs
  }

  function drive (job, parsed, host, obs, event, now) {
    const { knobs, deadline } = parsed
    const cf = knobs.close_first
    const encoder = new TextEncoder()
    const digests = [] // [message entry, bytes] whose sha256 is computed at the end

    return new Promise((resolve) => {
      let ws = null
      let ended = false
      let done = false
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
        : Math.max(200, deadline - now() - DEADLINE_MARGIN_MS)

      let recvTimer = null
      const armRecvTimer = () => {
        cancel(recvTimer)
        recvTimer = later(knobs.recv_timeout_ms, () => {
          event('timeout')
          stop('timeout')
        })
      }

      const finish = () => {
        if (done) return
        done = true
        host.current = null
        for (const t of timers) clearTimeout(t)
        timers.clear()
        if (error && !obs.error) obs.error = error
        if (obs.clean_source === null && ws) obs.clean_source = 'none: no CloseEvent before the job ended'
        if (ws) ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null
        resolve(digests)
      }

      // The adapter ends receiving itself: close as an application would and
      // wait for the 'close' event, at most until the job's deadline.
      const stop = (how) => {
        if (ended) return
        ended = true
        obs.end = how
        cancel(recvTimer)
        if (!ws || ws.readyState === 3) return finish()
        event('close_call', { by: 'adapter', why: 'end', code: 1000 })
        try {
          ws.close(1000) // a normal closure; close_first with code null tests close()
        } catch (err) {
          event('close_error', exceptionInfo(err))
        }
        later(budget(), () => {
          event('close_timeout')
          finish() // the WHATWG API has no way to abort; the socket is left behind
        })
      }

      const closeFirst = () => {
        const code = cf.code === undefined ? null : cf.code
        const reason = typeof cf.reason === 'string' ? cf.reason : ''
        event('close_call', { by: 'close_first', why: 'knob', code, reason })
        try {
          if (code === null) ws.close()
          else ws.close(code, reason)
        } catch (err) {
          event('close_error', exceptionInfo(err))
        }
      }

      const busy = (ms) => {
        if (ms > 0) host.block(ms)
      }

      const onOpen = () => {
        cancel(openTimer)
        obs.connected = true
        obs.subprotocol = ws.protocol || null
        event('open', { subprotocol: ws.protocol || null })
        for (const item of knobs.send) {
          const kind = Object.keys(item)[0]
          try {
            if (kind === 'text') ws.send(item.text)
            else if (kind === 'hex') ws.send(fromHex(item.hex))
            else host.ping(ws, encoder.encode(item.ping))
            event('send', { kind: kind === 'hex' ? 'binary' : kind })
          } catch (err) {
            event('send_error', Object.assign({ kind }, exceptionInfo(err)))
          }
        }
        if (cf && cf.after_messages === 0) closeFirst()
        if (cf && typeof cf.after_ms === 'number') later(cf.after_ms, closeFirst)
        busy(knobs.recv_delay_ms)
        event('recv_start')
        armRecvTimer()
      }

      const onMessage = (ev) => {
        if (ended) return // the application stopped receiving
        let entry
        if (typeof ev.data === 'string') {
          const bytes = encoder.encode(ev.data)
          entry = { type: 'text', length: bytes.length }
          if (bytes.length <= INLINE_LIMIT) entry.text = ev.data
          else digests.push([entry, bytes])
        } else {
          const bytes = new Uint8Array(ev.data)
          entry = { type: 'binary', length: bytes.length }
          if (bytes.length <= INLINE_LIMIT) entry.hex = hex(bytes)
          else digests.push([entry, bytes])
        }
        entry.t_ms = event('message', { type: entry.type, length: entry.length })
        obs.messages.push(entry)
        received += 1
        cancel(recvTimer)
        if (received >= knobs.max_messages) {
          event('max_messages')
          return stop('max_messages')
        }
        if (knobs.echo) {
          try {
            ws.send(ev.data)
            event('echo', { type: entry.type })
          } catch (err) {
            event('echo_error', exceptionInfo(err))
          }
        }
        if (cf && cf.after_messages === received) closeFirst()
        busy(knobs.recv_pace_ms)
        armRecvTimer()
      }

      const onError = (ev) => {
        const info = host.errorInfo(ev)
        event('error', info)
        if (!error) error = info
        if (!obs.connected && !ended) {
          // The implementation refused the handshake: that is the fact, now.
          // Its 'close' normally follows at once (same task); give it a
          // moment for the code and wasClean, but do not wait for the open
          // timeout.
          cancel(openTimer)
          later(CLOSE_AFTER_ERROR_MS, () => {
            event('no_close_after_error', { waited_ms: CLOSE_AFTER_ERROR_MS })
            obs.clean_source = `none: no CloseEvent within ${CLOSE_AFTER_ERROR_MS} ms of the error event`
            ended = true
            obs.end = 'connect_failed'
            finish()
          })
        }
      }

      const onClose = (ev) => {
        obs.clean = typeof ev.wasClean === 'boolean' ? ev.wasClean : null
        obs.clean_source = 'CloseEvent.wasClean'
        if (!obs.connected) {
          event('connect_failed', { code: ev.code, was_clean: ev.wasClean })
          ended = true
          obs.end = 'connect_failed'
          return finish()
        }
        event('closed', { code: ev.code, was_clean: ev.wasClean })
        if (!ended) {
          ended = true
          obs.end = 'closed'
        }
        obs.close = { code: ev.code, reason: ev.reason }
        event('close_done', { source: 'CloseEvent' })
        finish()
      }

      // An exception the implementation throws where the application cannot
      // catch it (Node: 'uncaughtException') ends the job as a fact; a real
      // application would have crashed.
      host.current = {
        crash (err, origin) {
          const info = exceptionInfo(err)
          obs.crash = Object.assign({ where: 'uncaught', at: null }, origin || {}, info)
          event('crash', obs.crash)
          if (!error) error = info
          if (!ended) {
            ended = true
            obs.end = 'error'
          }
          finish()
        }
      }
      event('connect_start')
      try {
        ws = host.open(job.url, knobs.subprotocols, job)
        ws.binaryType = 'arraybuffer' // synchronous access to binary data, as apps usually choose
      } catch (err) {
        error = exceptionInfo(err)
        event('connect_failed', error)
        obs.end = 'connect_failed'
        return finish()
      }
      ws.onopen = onOpen
      ws.onmessage = onMessage
      ws.onerror = onError
      ws.onclose = onClose
      // No open (and no close) in time: give up as an application would. The
      // close() fails the connection, so 'close' should follow; if the
      // implementation never fires it, the job ends a moment later anyway.
      // Not a refusal: the implementation neither connected nor refused
      // (end "connect_timeout"). A 'close' the close() provokes is recorded
      // (clean, code) but does not turn it into a refusal.
      const openTimer = later(Math.min(OPEN_TIMEOUT_MS, Math.max(1000, budget() - 1000)), () => {
        event('connect_timeout', { waited_ms: Math.round(now()) })
        if (!error) error = { type: 'timeout', message: `no 'open' or 'close' after ${Math.round(now())} ms` }
        ended = true
        obs.end = 'connect_timeout'
        ws.onclose = (ev) => {
          obs.clean = typeof ev.wasClean === 'boolean' ? ev.wasClean : null
          obs.clean_source = 'CloseEvent.wasClean'
          event('closed', { code: ev.code, was_clean: ev.wasClean, after: 'connect_timeout' })
          finish()
        }
        try { ws.close() } catch (_) {}
        later(500, finish)
      })
      if (deadline !== null) {
        // Last resort: whatever the implementation does, the observation gets out in time.
        later(deadline - DEADLINE_MARGIN_MS, () => {
          event('deadline')
          if (!ended) {
            ended = true
            obs.end = obs.connected ? 'timeout' : 'connect_timeout'
          }
          finish()
        })
      }
    })
  }

  return { runJob, KNOB_DEFAULTS, BadJob }
})
