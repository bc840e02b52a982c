#!/usr/bin/env node
// wsreplay adapter for undici's WebSocket (the WHATWG WebSocket API in Node).
//
// Speaks the contract in harness/adapters/README.md through the JavaScript
// kit, harness/adapters/js-common/: node-contract.js runs the process, and
// the job is driven by whatwg-job.js, which the chromium adapter's page
// shares. This file only loads undici (from WSREPLAY_NODE_PACKAGE_DIR, the
// exact version the installer put there, or by hand from NODE_PATH) and
// supplies what is particular to it:
//
// - new WebSocket(url, protocols) for ws:// jobs, the library's defaults
//   untouched. Node 20's own global WebSocket (an older undici bundled with
//   Node) is never used.
// - TLS (wss:// jobs): an undici Agent whose connect options carry the run's
//   CA (Node's `ca` replaces the default roots, so exactly that CA is
//   trusted). From undici 5.22.1 it is passed the way undici documents, as
//   new WebSocket(url, {protocols, dispatcher}). Before that the constructor
//   takes only protocols, so the agent is made the global dispatcher just
//   for the constructor call (which reads it synchronously) and the previous
//   one is restored at once.
// - recv_delay_ms / recv_pace_ms: the application is busy. Atomics.wait
//   holds the thread (without spinning) right after 'open' and after each
//   message, so no event reaches the application meanwhile. undici parses
//   frames on that same thread, so it does not read the socket either; the
//   bytes wait in the kernel. (The WHATWG API offers no other way to not
//   take a message; see whatwg-job.js.)
// - send ping: undici exports ping(ws, buffer) from 7.12.0; before that
//   there is no way to send a ping and `send` with a ping is unsupported.
// - close_first: ws.close(code, reason); the API allows 1000 and 3000-4999
//   only, other codes are reported unsupported.
// - compression: undici has no option for permessage-deflate; from 6.18.0 it
//   always offers `permessage-deflate; client_max_window_bits`, before that
//   never (DEFLATE_OFFER_SINCE). So "off" is honoured before 6.18.0, "on"
//   (and an object asking for no more than that offer) from 6.18.0; the rest
//   is unsupported (js-common/whatwg-job.js, recorder.offerMeets).

'use strict'

const diagnostics = require('node:diagnostics_channel')
const fs = require('node:fs')
const contract = require('../js-common/node-contract.js')
const whatwg = require('../js-common/whatwg-job.js')

const ADAPTER = 'node-undici'
const DISPATCHER_OPTION_SINCE = [5, 22, 1]
// From 6.18.0 undici's connection.js appends a fixed
// `Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits` to
// every handshake (the WHATWG algorithm's user-agent defined value); up to
// 6.17.0 (and in every 5.x) that line is commented out: no offer. No
// version has an option for it.
const DEFLATE_OFFER_SINCE = [6, 18, 0]
const CLOSED = 3 // WebSocket.CLOSED

// The WHATWG job's host (js-common/whatwg-job.js): undici's WebSocket.
function makeHost (undici, version) {
  const dispatcherOption = contract.versionAtLeast(version, DISPATCHER_OPTION_SINCE)
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  let agent = null
  // The sockets undici connects while a job runs (its diagnostics channel,
  // which every version with a WebSocket publishes on; subscribing changes
  // nothing in undici): the job's handshake connection, to find it again
  // when the job is over (jobOver).
  let sockets = null
  diagnostics.channel('undici:client:connected').subscribe((msg) => {
    if (sockets && msg && msg.socket) sockets.push(msg.socket)
  })
  return {
    open (url, protocols, job) {
      sockets = []
      if (!(url.startsWith('wss:') && job.ca_file)) return new undici.WebSocket(url, protocols)
      agent = new undici.Agent({ connect: { ca: fs.readFileSync(job.ca_file) } })
      if (dispatcherOption) return new undici.WebSocket(url, { protocols, dispatcher: agent })
      const previous = undici.getGlobalDispatcher()
      undici.setGlobalDispatcher(agent)
      try {
        return new undici.WebSocket(url, protocols)
      } finally {
        undici.setGlobalDispatcher(previous)
      }
    },
    block (ms) {
      Atomics.wait(sleeper, 0, 0, ms)
    },
    offer: contract.versionAtLeast(version, DEFLATE_OFFER_SINCE) ? { client_max_window_bits: true } : null,
    ping: typeof undici.ping === 'function'
      ? (ws, bytes) => undici.ping(ws, Buffer.from(bytes))
      : null,
    errorInfo (ev) {
      const err = ev && ev.error
      const type = err ? `${ev.constructor.name}(${(err.constructor && err.constructor.name) || 'Error'})` : (ev && ev.constructor.name) || 'Event'
      const cause = err && err.cause && err.cause.message
      const message = (err && err.message) || (ev && ev.message) || (cause ? `cause: ${cause}` : '')
      return { type, message }
    },
    // The job is over and the application is done with its WebSocket: it
    // never opened (refused, crashed, given up) or it is CLOSED. A socket
    // undici connected for it that is still open then belongs to nobody.
    // undici 7.30 does that after refusing a 101 (7.29 and older close
    // it): the upgraded socket, detached from undici's pool, stays open
    // (RFC 6455 7.1.7 asks the client to close it) until the server gives
    // up waiting; so does every version that throws from its response
    // callback (6.21, 7.16 on an unrequested subprotocol). The application's process tidies it up
    // as an application exiting (or crashing) would: destroy() (the kernel
    // sends FIN, or RST if the server's bytes are still unread), recorded
    // as `socket_left_open` before the observation goes out. The server's
    // session then ends on the client's EOF, not on its linger timeout.
    // A WebSocket still CLOSING (close_timeout) keeps its socket: undici
    // may still act on it.
    jobOver (ws, rec) {
      const mine = sockets || []
      sockets = null
      if (rec.data.connected && ws.readyState !== CLOSED) return
      for (const socket of mine) {
        if (socket.destroyed) continue
        rec.event('socket_left_open', { ready_state: ws.readyState, then: 'destroy()' })
        socket.destroy()
      }
    },
    // undici throws from its own callbacks now and then (e.g. 7.16 on a 101
    // with a subprotocol nobody asked for): node-contract.js hands that to
    // the running job as its `crash`.
    current: null,
    async release () {
      if (agent) {
        const a = agent
        agent = null
        await a.destroy().catch(() => {})
      }
    }
  }
}

function main () {
  let lib
  try {
    lib = contract.loadPackage('undici')
  } catch (err) {
    return contract.refuse(ADAPTER, null, `cannot load undici: ${err.message}`)
  }
  const undici = lib.main
  if (typeof undici.WebSocket !== 'function') {
    return contract.refuse(ADAPTER, lib.version, `undici ${lib.version} exports no WebSocket (it appeared in 5.15.0)`)
  }
  const host = makeHost(undici, lib.version)
  contract.serve({
    ready: {
      adapter: ADAPTER,
      library: 'undici',
      version: lib.version,
      api: 'new WebSocket(url, protocols) from undici (WHATWG)' + (host.ping ? ' + undici.ping' : '')
    },
    host,
    runJob: (job) => whatwg.runJob(job, host)
  })
}

main()
