// One wsreplay job driven through a WHATWG WebSocket (the browser API).
//
// Shared by node-undici (undici's WebSocket, in Node) and chromium (the
// browser's own WebSocket; the page loads this very file after recorder.js
// and event-job.js). The job's flow is event-job.js; this file is the
// WHATWG API's part of it. It uses nothing but what both environments have.
//
// The host passes what differs between environments:
//   open(url, protocols, job)  -> a new WebSocket (the host adds TLS trust)
//   block(ms)                  synchronous wait: nothing else runs meanwhile
//   ping(ws, bytes) | null     a library's ping extension, if it has one
//   offer                      the permessage-deflate offer the implementation
//                              always sends ({param: value}), or null if it
//                              sends none: the WHATWG API has no option for
//                              it, so the `compression` knob is honoured only
//                              where that offer is what it asks for
//   errorInfo(event)           {type, message} of an 'error' event
//   jobOver(ws, rec) (optional) the job is over; called before its
//                              observation is finished
// and gets `host.current` while a job runs (see event-job.js).
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
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('./recorder.js'), require('./event-job.js'))
  } else {
    root.wsreplayWhatwg = factory(root.wsreplayRecorder, root.wsreplayEventJob)
  }
})(typeof globalThis !== 'undefined' ? globalThis : this, function (recorder, eventJob) {
  'use strict'

  const CLOSED = 3

  function library (host) {
    const encoder = new TextEncoder()
    return {
      words: { closeEvent: 'CloseEvent', openWait: "'open' or 'close'" },
      errorInfo: eventJob.exceptionInfo,
      unsupported (knobs) {
        const names = []
        if (!host.ping && knobs.send.some((item) => 'ping' in item)) names.push('send') // no ping in the API
        const cf = knobs.close_first
        const code = cf && cf.code !== undefined ? cf.code : null
        // The API lets an application close with 1000 or 3000-4999 only;
        // close() throws InvalidAccessError for any other code.
        if (code !== null && code !== 1000 && !(code >= 3000 && code <= 4999)) names.push('close_first')
        if (!recorder.offerMeets(host.offer, knobs.compression)) names.push('compression')
        return names
      },
      connect (job, knobs, run) {
        const ws = host.open(job.url, knobs.subprotocols, job)
        ws.binaryType = 'arraybuffer' // synchronous access to binary data, as apps usually choose
        const closeInfo = (ev) => ({
          code: ev.code,
          reason: ev.reason,
          clean: typeof ev.wasClean === 'boolean' ? ev.wasClean : null,
          cleanSource: 'CloseEvent.wasClean',
          fields: { was_clean: ev.wasClean }
        })
        ws.onopen = () => run.on.open()
        ws.onmessage = (ev) => run.on.message(
          typeof ev.data === 'string' ? { text: ev.data } : { bytes: new Uint8Array(ev.data), data: ev.data })
        ws.onerror = (ev) => run.on.error(host.errorInfo(ev))
        ws.onclose = (ev) => run.on.close(closeInfo(ev))
        return {
          protocol: () => ws.protocol,
          send (kind, value) {
            if (kind === 'text') ws.send(value)
            else if (kind === 'hex') ws.send(recorder.fromHex(value))
            else host.ping(ws, encoder.encode(value))
          },
          echo (msg) {
            ws.send(msg.text !== undefined ? msg.text : msg.data)
          },
          close (code, reason) {
            if (code === null) ws.close()
            else ws.close(code, reason)
          },
          hold (ms, then) {
            host.block(ms)
            then()
          },
          isClosed: () => ws.readyState === CLOSED,
          beforeStop () {},
          // the API has no way to abort; the socket is left behind
          closeTimedOut: (finish) => finish(),
          // close() fails a connection still connecting; its 'close' follows
          abandon () {
            try { ws.close() } catch (_) {}
          },
          release () {
            ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null
            // The job is over (its observation not yet out): a host that
            // can see the library's connections tidies up what the library
            // left open (node-undici), recording it in the observation.
            if (host.jobOver) host.jobOver(ws, run.rec)
          }
        }
      }
    }
  }

  // Runs one job; resolves to its observation (never rejects).
  function runJob (job, host) {
    return eventJob.runJob(job, host, library(host))
  }

  return { runJob }
})
