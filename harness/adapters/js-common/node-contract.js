// The Node side of the adapter contract (harness/adapters/README.md): the
// process around the jobs. It keeps stdout for contract lines only, loads
// the package under test, says `ready` or `unsupported`, turns exceptions
// nobody caught into the running job's `crash`, and serves job lines one at
// a time until stdin ends.
//
// An adapter requires it by a path relative to its own file
// (require('../js-common/node-contract.js')): adapters run from the
// repository, so the kit needs no install step.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')

const EXIT_UNSUPPORTED = 3

// Nothing but contract lines reaches stdout: process.stdout.write is sent
// to stderr once the contract's writer has been kept aside (library chatter,
// console.log, go to the log).
const contractWrite = process.stdout.write.bind(process.stdout)
process.stdout.write = process.stderr.write.bind(process.stderr)
console.log = console.error

function emit (obj) {
  contractWrite(JSON.stringify(obj) + '\n')
}

// {type, message} of an exception a Node library threw: the class name, and
// the message with Node's error code in front of it when there is one.
function errorInfo (err) {
  if (err === null || err === undefined) return { type: 'undefined', message: '' }
  const type = (err.constructor && err.constructor.name) || typeof err
  let message = String(err.message !== undefined ? err.message : err)
  if (err.code) message = `[${err.code}] ${message}`
  return { type, message }
}

// The package under test: {main, version, dir}. From WSREPLAY_NODE_PACKAGE_DIR,
// the exact version the installer put there; run by hand, from NODE_PATH.
function loadPackage (name) {
  const dir = process.env.WSREPLAY_NODE_PACKAGE_DIR ||
    packageDirAbove(path.dirname(require.resolve(name)))
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
  return { main: require(dir), version, dir }
}

function packageDirAbove (dir) {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d
  }
  throw new Error(`no package.json above ${dir}`)
}

function versionAtLeast (version, wanted) {
  const parts = version.split(/[.-]/).slice(0, 3).map((p) => parseInt(p, 10) || 0)
  for (let i = 0; i < 3; i++) {
    if (parts[i] !== wanted[i]) return parts[i] > wanted[i]
  }
  return true
}

// This version lacks the adapter's API: the `unsupported` line, exit 3.
function refuse (adapter, version, reason) {
  emit({ event: 'unsupported', adapter, version, reason })
  process.exitCode = EXIT_UNSUPPORTED
}

// Where an exception nobody caught came from: `where` is the process hook
// that caught it, or "'error' event with no listener" when Node threw it
// because an emitter had no 'error' listener (Node marks such errors with a
// symbol of its own, or wraps a non-Error as ERR_UNHANDLED_ERROR); `at` is
// the first frame of its stack.
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

// The observation of a job the adapter could not run at all.
function failedObservation (line, err) {
  let id = null
  try { id = JSON.parse(line).id } catch (_) {}
  return {
    id: id === undefined ? null : id,
    connected: false,
    messages: [],
    close: null,
    end: 'adapter_error',
    error: {
      type: err instanceof SyntaxError ? 'BadJob' : (err && err.constructor && err.constructor.name) || 'Error',
      message: err instanceof SyntaxError
        ? `bad job: job line is not JSON: ${err.message}: ${line.slice(0, 200)}`
        : String((err && err.stack) || err)
    },
    unsupported: [],
    events: [],
    duration_ms: 0
  }
}

// Says `ready` and serves jobs: runJob(job) -> Promise<observation> for each
// job line, one at a time, in order; then host.release() if the host has one
// (the job's own resources). host.current is the running job's crash target
// (event-job.js sets it). EOF on stdin ends the process once the last
// observation is out.
function serve ({ ready, host, runJob }) {
  emit(Object.assign({ event: 'ready' }, ready, { language: `node ${process.versions.node}` }))
  // An exception thrown where the application cannot catch it would kill an
  // application: here it ends the running job as a fact, and the process
  // serves on.
  const crash = (hook) => (err) => {
    console.error(`${hook}:`, err)
    if (host.current) host.current.crash(err, crashOrigin(hook, err))
    else console.error('(no job running: reported on stderr only)')
  }
  process.on('uncaughtException', crash('uncaughtException'))
  process.on('unhandledRejection', crash('unhandledRejection'))
  const handle = async (line) => {
    const observation = await runJob(JSON.parse(line))
    if (host.release) await host.release()
    return observation
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  let queue = Promise.resolve()
  rl.on('line', (raw) => {
    const line = raw.trim()
    if (!line) return
    queue = queue.then(() => handle(line)).then(emit, (err) => {
      console.error('adapter error:', err)
      emit(failedObservation(line, err))
    })
  })
  rl.on('close', () => {
    queue.then(() => process.exit(0))
  })
}

module.exports = { emit, errorInfo, loadPackage, versionAtLeast, refuse, serve, EXIT_UNSUPPORTED }
