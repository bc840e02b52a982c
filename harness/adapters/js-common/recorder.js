// The recorder of one wsreplay job: the observation of the contract
// (harness/adapters/README.md) — events with their times, messages, the
// close, the end — plus the job's own timers and the reading of a job line.
//
// Loaded by Node (require) and by the chromium adapter's page (a <script>,
// as globalThis.wsreplayRecorder), so it uses nothing but what both have:
// TextEncoder, crypto.subtle, setTimeout, performance.
//
// Knobs arrive complete: the harness fills every one from the scenario
// language's defaults and validates them, so nothing here applies a default
// or checks a value. What stays is the contract's one rule about knobs: a
// knob this kit does not know, given a value other than null or false, must
// not be ignored; the job reports it unsupported.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory()
  else root.wsreplayRecorder = factory()
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict'

  // Messages up to this many bytes are reported whole, larger ones by sha256.
  const INLINE_LIMIT = 4096
  // The knobs of the contract; the harness always sends all of them.
  const KNOB_NAMES = [
    'recv_delay_ms', 'recv_pace_ms', 'recv_timeout_ms', 'max_messages',
    'echo', 'send', 'close_first', 'subprotocols', 'compression'
  ]

  // Whether a library that always sends `offer` honours the `compression`
  // knob `wanted`: for libraries with no compression option. `offer` is the
  // permessage-deflate offer it sends ({param: value}, true for a parameter
  // without a value), null when it sends none. "default" is always
  // honoured; "off" when there is no offer; "on" when there is one (the
  // library's own); an object when each key it gives is in the offer as
  // given (a flag given as false: absent from the offer).
  function offerMeets (offer, wanted) {
    if (wanted === 'default') return true
    if (wanted === 'off') return offer === null
    if (offer === null) return false
    if (wanted === 'on') return true
    if (wanted === null || typeof wanted !== 'object') return false
    return Object.keys(wanted).every((key) => wanted[key] === false
      ? !(key in offer)
      : key in offer && offer[key] === wanted[key])
  }

  // A job line the adapter cannot run: end "adapter_error", "bad job: …".
  class BadJob extends Error {}

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

  // {job, knobs, unsupported, deadline} of a parsed job line. `unsupported`
  // lists the unknown knobs that are not off; the library adds its own.
  function readJob (job) {
    if (job === null || typeof job !== 'object' || Array.isArray(job)) {
      throw new BadJob('job is not a JSON object')
    }
    if (typeof job.url !== 'string' || !job.url) throw new BadJob("job has no 'url' string")
    const knobs = job.knobs
    if (knobs === null || typeof knobs !== 'object' || Array.isArray(knobs)) {
      throw new BadJob("job 'knobs' is not an object")
    }
    const unsupported = Object.keys(knobs).filter((name) =>
      KNOB_NAMES.indexOf(name) < 0 && knobs[name] !== null && knobs[name] !== false)
    const deadline = typeof job.deadline_ms === 'number' && job.deadline_ms > 0 ? job.deadline_ms : null
    return { job, knobs, unsupported, deadline }
  }

  class Recorder {
    constructor (id) {
      this.t0 = performance.now()
      this.encoder = new TextEncoder()
      this.digests = [] // [message entry, bytes] whose sha256 settle() adds
      this.data = {
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

    // connect_start: t_ms counts from here.
    start () {
      this.t0 = performance.now()
      // wall-clock µs of connect_start, from the same clock as t_ms
      // (performance.timeOrigin is the wall-clock time of its 0)
      this.data.t0_unix_us = Math.round((performance.timeOrigin + this.t0) * 1000)
      this.data.events.push({ t_ms: 0, event: 'connect_start' })
    }

    now () {
      return Math.round((performance.now() - this.t0) * 1000) / 1000
    }

    event (name, fields) {
      const t = this.now()
      this.data.events.push(Object.assign({ t_ms: t, event: name }, fields || {}))
      return t
    }

    // A data message the application received: {text} or {bytes} (a
    // Uint8Array); `fields` go into its event only. Returns its entry.
    message (msg, fields) {
      let entry, bytes
      if (typeof msg.text === 'string') {
        bytes = this.encoder.encode(msg.text)
        entry = { type: 'text', length: bytes.length }
        if (bytes.length <= INLINE_LIMIT) entry.text = msg.text
      } else {
        bytes = msg.bytes
        entry = { type: 'binary', length: bytes.length }
        if (bytes.length <= INLINE_LIMIT) entry.hex = hex(bytes)
      }
      if (bytes.length > INLINE_LIMIT) this.digests.push([entry, bytes])
      entry.t_ms = this.event('message', Object.assign({ type: entry.type, length: entry.length }, fields || {}))
      this.data.messages.push(entry)
      return entry
    }

    // The sha256 of the large messages, once the job is over (crypto.subtle
    // is asynchronous, and hashing while messages arrive would delay them).
    async settle () {
      const pending = this.digests
      this.digests = []
      await Promise.all(pending.map(async ([entry, bytes]) => {
        entry.sha256 = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))
      }))
    }

    finish () {
      this.data.duration_ms = this.now()
      return this.data
    }
  }

  // The job's timers, all cleared at once when it ends.
  class Timers {
    constructor () {
      this.pending = new Set()
    }

    later (ms, fn) {
      const t = setTimeout(() => { this.pending.delete(t); fn() }, Math.max(0, ms))
      this.pending.add(t)
      return t
    }

    cancel (t) {
      if (t) { clearTimeout(t); this.pending.delete(t) }
    }

    clear () {
      for (const t of this.pending) clearTimeout(t)
      this.pending.clear()
    }
  }

  return { INLINE_LIMIT, KNOB_NAMES, BadJob, hex, fromHex, offerMeets, readJob, Recorder, Timers }
})
