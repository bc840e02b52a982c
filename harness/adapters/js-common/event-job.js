// One wsreplay job against an event-driven WebSocket API (ws's emitter, the
// WHATWG WebSocket of undici and of the browser): what the application does,
// written once. connect → `send` → close_first → recv_delay_ms → take
// messages (echo, close_first after N, recv_pace_ms) until the library ends
// the connection, recv_timeout_ms passes or max_messages is reached → close.
//
// The library's part is a `library` object (see node-ws/adapter.js and
// whatwg-job.js):
//   unsupported(knobs)          -> knob names it cannot honour
//   errorInfo(err)              -> {type, message} of an exception its calls threw
//   words: {closeEvent, openWait}  how its events are named in the observation
//   connect(job, knobs, run)    -> a socket; throws if the constructor refuses
//                                  (a BadJob is the adapter's, not the library's)
// where run = {rec, later, on: {open(), message(msg, fields), error(info),
// close({code, reason, clean, cleanSource, fields})}} and the socket has
//   protocol()                  the agreed subprotocol ('' or null if none)
//   send(kind, value, late)     kind text | hex | ping; throws, or calls late(info)
//   echo(msg, late)             send a received message back
//   close(code, reason)         code null: close() with no code; reason undefined:
//                               close(code), the adapter's own closing; may throw
//   hold(ms, then)              the application does not take messages for ms, then()
//   isClosed()                  the connection is over already
//   beforeStop()                the adapter is about to close (undo a hold)
//   closeTimedOut(finish)       no 'close' within the job's budget
//   abandon()                   no 'open' in time: give the connection up
//   release()                   the job is over: detach from the socket
//
// An exception the library throws where the application cannot catch it
// (Node: 'uncaughtException') reaches the job through host.current.crash(err,
// {where, at}) and ends it with the observation's `crash`: in an application
// it would have been fatal.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory(require('./recorder.js'))
  else root.wsreplayEventJob = factory(root.wsreplayRecorder)
})(typeof globalThis !== 'undefined' ? globalThis : this, function (recorder) {
  'use strict'

  const { BadJob, Recorder, Timers, readJob } = recorder

  const OPEN_TIMEOUT_MS = 10000
  const DEADLINE_MARGIN_MS = 500
  // After an 'error' while connecting, the 'close' normally follows at once
  // (WHATWG "fail the WebSocket connection"; ws the same). The job waits this
  // long for it, for its code and wasClean, then reports the refusal anyway:
  // some implementations never send it (undici 5.x after a failed TLS
  // handshake, ws 0.x-1.x), and waiting for the open timeout instead made
  // every such refusal look like a hang and cost seconds.
  const CLOSE_AFTER_ERROR_MS = 250

  function exceptionInfo (err) {
    const type = (err && err.name && err.name !== 'Error' ? err.name : null) ||
      (err && err.constructor && err.constructor.name) || typeof err
    return { type, message: String(err && err.message !== undefined ? err.message : err) }
  }

  // Runs one job; resolves to its observation. Never rejects: a bad job or a
  // bug becomes end "adapter_error" with the details.
  async function runJob (job, host, library) {
    const rec = new Recorder(job && typeof job === 'object' ? job.id : null)
    try {
      const parsed = readJob(job)
      const unsupported = parsed.unsupported.concat(library.unsupported(parsed.knobs))
      if (unsupported.length) {
        rec.data.unsupported = Array.from(new Set(unsupported)).sort()
        rec.data.end = 'unsupported'
      } else {
        await drive(parsed, rec, host, library)
        await rec.settle()
      }
    } catch (err) {
      host.current = null
      rec.data.end = 'adapter_error'
      rec.data.error = {
        type: exceptionInfo(err).type,
        message: err instanceof BadJob ? `bad job: ${err.message}` : String((err && err.stack) || err)
      }
    }
    return rec.finish()
  }

  function drive (parsed, rec, host, library) {
    const { job, knobs, deadline } = parsed
    const obs = rec.data
    const cf = knobs.close_first
    const words = library.words
    return new Promise((resolve) => {
      const timers = new Timers()
      const later = (ms, fn) => timers.later(ms, fn)
      let socket = null
      let ended = false // receiving is over (the adapter stopped or the library ended)
      let done = false
      let received = 0
      let error = null
      const endAs = (how) => { ended = true; obs.end = how }
      const budget = () => deadline === null
        ? 10000
        : Math.max(200, deadline - rec.now() - DEADLINE_MARGIN_MS)

      let recvTimer = null
      const armRecvTimer = () => {
        timers.cancel(recvTimer)
        recvTimer = later(knobs.recv_timeout_ms, () => {
          rec.event('timeout')
          stop('timeout')
        })
      }

      const finish = () => {
        if (done) return
        done = true
        host.current = null
        timers.clear()
        if (error && !obs.error) obs.error = error
        if (obs.clean_source === null && socket) obs.clean_source = `none: no ${words.closeEvent} before the job ended`
        if (socket) socket.release()
        resolve()
      }

      // The adapter ends receiving itself (timeout, max_messages): close as
      // an application would (a normal closure; what a library does with no
      // code is what close_first with code null tests) and wait for the
      // library's close, at most until the job's deadline.
      const stop = (how) => {
        if (ended) return
        endAs(how)
        timers.cancel(recvTimer)
        if (!socket || socket.isClosed()) return finish()
        socket.beforeStop()
        rec.event('close_call', { by: 'adapter', why: 'end', code: 1000 })
        try {
          socket.close(1000)
        } catch (err) {
          rec.event('close_error', library.errorInfo(err))
        }
        later(budget(), () => {
          rec.event('close_timeout')
          socket.closeTimedOut(finish)
        })
      }

      const closeFirst = () => {
        const code = cf.code === undefined ? null : cf.code
        const reason = typeof cf.reason === 'string' ? cf.reason : ''
        rec.event('close_call', { by: 'close_first', why: 'knob', code, reason })
        try {
          socket.close(code, reason)
        } catch (err) {
          rec.event('close_error', library.errorInfo(err))
        }
      }

      // recv_delay_ms / recv_pace_ms: the library's way of not taking messages.
      const hold = (ms, then) => {
        if (ms > 0) socket.hold(ms, then)
        else then()
      }

      const onOpen = () => {
        timers.cancel(openTimer)
        obs.connected = true
        obs.subprotocol = socket.protocol() || null
        rec.event('open', { subprotocol: obs.subprotocol })
        for (const item of knobs.send) {
          const kind = Object.keys(item)[0]
          const late = (info) => rec.event('send_error', Object.assign({ kind }, info))
          try {
            socket.send(kind, item[kind], late)
            rec.event('send', { kind: kind === 'hex' ? 'binary' : kind })
          } catch (err) {
            late(library.errorInfo(err))
          }
        }
        if (cf && cf.after_messages === 0) closeFirst()
        if (cf && typeof cf.after_ms === 'number') later(cf.after_ms, closeFirst)
        hold(knobs.recv_delay_ms, () => {
          rec.event('recv_start')
          armRecvTimer()
        })
      }

      const onMessage = (msg, fields) => {
        if (ended) return // the application stopped receiving
        const entry = rec.message(msg, fields)
        received += 1
        timers.cancel(recvTimer)
        if (received >= knobs.max_messages) {
          rec.event('max_messages')
          return stop('max_messages')
        }
        if (knobs.echo) {
          const late = (info) => rec.event('echo_error', info)
          try {
            socket.echo(msg, late)
            rec.event('echo', { type: entry.type })
          } catch (err) {
            late(library.errorInfo(err))
          }
        }
        if (cf && cf.after_messages === received) closeFirst()
        hold(knobs.recv_pace_ms, () => {
          if (!ended) armRecvTimer()
        })
      }

      const onError = (info) => {
        rec.event('error', info)
        if (!error) error = info
        if (!obs.connected && !ended) {
          // The library refused the handshake: that is the fact, now. Give
          // its close a moment (for the code and wasClean), not the open timeout.
          timers.cancel(openTimer)
          later(CLOSE_AFTER_ERROR_MS, () => {
            rec.event('no_close_after_error', { waited_ms: CLOSE_AFTER_ERROR_MS })
            obs.clean_source = `none: no ${words.closeEvent} within ${CLOSE_AFTER_ERROR_MS} ms of the error event`
            endAs('connect_failed')
            finish()
          })
        }
      }

      const onClose = (close) => {
        obs.clean = close.clean
        obs.clean_source = close.cleanSource
        if (!obs.connected) {
          if (ended) {
            // the close that giving up after the open timeout provoked: recorded,
            // but it does not turn the hang into a refusal
            rec.event('closed', Object.assign({ code: close.code }, close.fields, { after: 'connect_timeout' }))
            return finish()
          }
          rec.event('connect_failed', Object.assign({ code: close.code }, close.fields))
          endAs('connect_failed')
          return finish()
        }
        rec.event('closed', Object.assign({ code: close.code }, close.fields))
        if (!ended) endAs('closed')
        obs.close = { code: close.code, reason: close.reason }
        rec.event('close_done', { source: words.closeEvent })
        finish()
      }

      host.current = {
        crash (err, origin) {
          const info = library.errorInfo(err)
          obs.crash = Object.assign({ where: 'uncaught', at: null }, origin || {}, info)
          rec.event('crash', obs.crash)
          if (!error) error = info
          if (!ended) endAs('error')
          finish()
        }
      }
      rec.start()
      try {
        socket = library.connect(job, knobs, {
          rec,
          later,
          on: { open: onOpen, message: onMessage, error: onError, close: onClose }
        })
      } catch (err) {
        if (err instanceof BadJob) throw err
        error = library.errorInfo(err)
        rec.event('connect_failed', error)
        obs.end = 'connect_failed'
        return finish()
      }
      // Neither 'open' nor a refusal in time: give up as an application
      // would (end "connect_timeout", not a refusal: the library did not
      // refuse anything). If no close follows, the job ends a moment later.
      const openTimer = later(Math.min(OPEN_TIMEOUT_MS, Math.max(1000, budget() - 1000)), () => {
        rec.event('connect_timeout', { waited_ms: Math.round(rec.now()) })
        if (!error) error = { type: 'timeout', message: `no ${words.openWait} after ${Math.round(rec.now())} ms` }
        endAs('connect_timeout')
        socket.abandon()
        later(500, finish)
      })
      if (deadline !== null) {
        // Last resort: whatever the library does, the observation gets out in time.
        later(deadline - DEADLINE_MARGIN_MS, () => {
          rec.event('deadline')
          if (!ended) endAs(obs.connected ? 'timeout' : 'connect_timeout')
          finish()
        })
      }
    })
  }

  return { runJob, exceptionInfo, OPEN_TIMEOUT_MS, DEADLINE_MARGIN_MS, CLOSE_AFTER_ERROR_MS }
})
