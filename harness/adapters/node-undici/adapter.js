#!/usr/bin/env node
// wsreplay adapter for undici's WebSocket (the WHATWG WebSocket API in Node).
//
// Speaks the contract in harness/adapters/README.md. The job itself is driven
// by whatwg-job.js, which the chromium adapter shares: this file only loads
// undici (from WSREPLAY_NODE_PACKAGE_DIR, the exact version the installer put
// there, or by hand from NODE_PATH) and supplies what is particular to Node:
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
//
// Nothing but contract lines reaches stdout.

'use strict'

const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')
const { runJob } = require('./whatwg-job.js')

const ADAPTER = 'node-undici'
const EXIT_UNSUPPORTED = 3
const DISPATCHER_OPTION_SINCE = [5, 22, 1]

const contractWrite = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
console.log = console.error

function emit (obj) {
  contractWrite(JSON.stringify(obj) + '\n')
}

function versionAtLeast (version, wanted) {
  const parts = version.split(/[.-]/).slice(0, 3).map((p) => parseInt(p, 10) || 0)
  for (let i = 0; i < 3; i++) {
    if (parts[i] !== wanted[i]) return parts[i] > wanted[i]
  }
  return true
}

function loadLibrary () {
  const dir = process.env.WSREPLAY_NODE_PACKAGE_DIR ||
    path.dirname(require.resolve('undici/package.json'))
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
  const undici = require(dir)
  return { undici, version }
}

function makeHost (undici, version) {
  const dispatcherOption = versionAtLeast(version, DISPATCHER_OPTION_SINCE)
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  let agent = null
  return {
    open (url, protocols, job) {
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

// Where an exception nobody caught came from: `where` is the process hook
// that caught it, or "'error' event with no listener" when Node threw it
// because an emitter had no 'error' listener (Node marks such errors with a
// symbol of its own, or wraps a non-Error as ERR_UNHANDLED_ERROR); `at` is
// the first frame of its stack. (node-ws has the same function.)
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

function badLine (line, err) {
  let id = null
  try { id = JSON.parse(line).id } catch (_) {}
  return {
    id: id === undefined ? null : id,
    connected: false,
    messages: [],
    close: null,
    end: 'adapter_error',
    error: { type: 'BadJob', message: `bad job: ${err.message}: ${line.slice(0, 200)}` },
    unsupported: [],
    events: [],
    duration_ms: 0
  }
}

async function handle (line, host) {
  let job
  try {
    job = JSON.parse(line)
  } catch (err) {
    return badLine(line, err)
  }
  const obs = await runJob(job, host)
  await host.release()
  return obs
}

function main () {
  let lib
  try {
    lib = loadLibrary()
  } catch (err) {
    emit({ event: 'unsupported', adapter: ADAPTER, version: null, reason: `cannot load undici: ${err.message}` })
    process.exitCode = EXIT_UNSUPPORTED
    return
  }
  if (typeof lib.undici.WebSocket !== 'function') {
    emit({
      event: 'unsupported',
      adapter: ADAPTER,
      version: lib.version,
      reason: `undici ${lib.version} exports no WebSocket (it appeared in 5.15.0)`
    })
    process.exitCode = EXIT_UNSUPPORTED
    return
  }
  const host = makeHost(lib.undici, lib.version)
  // undici throws from its own callbacks now and then (e.g. 7.16 on a 101
  // with a subprotocol nobody asked for): in an application that is a crash.
  // Here it ends the running job with the observation's `crash`, and the
  // process serves on.
  const crash = (hook) => (err) => {
    console.error(`${hook}:`, err)
    if (host.current) host.current.crash(err, crashOrigin(hook, err))
    else console.error('(no job running: reported on stderr only)')
  }
  process.on('uncaughtException', crash('uncaughtException'))
  process.on('unhandledRejection', crash('unhandledRejection'))
  emit({
    event: 'ready',
    adapter: ADAPTER,
    library: 'undici',
    version: lib.version,
    api: 'new WebSocket(url, protocols) from undici (WHATWG)' + (host.ping ? ' + undici.ping' : ''),
    language: `node ${process.versions.node}`
  })
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  let queue = Promise.resolve()
  rl.on('line', (line) => {
    if (!line.trim()) return
    queue = queue.then(() => handle(line.trim(), host)).then(emit, (err) => {
      console.error('adapter error:', err)
      emit(badLine(line, err))
    })
  })
  rl.on('close', () => {
    queue.then(() => process.exit(0))
  })
}

main()
