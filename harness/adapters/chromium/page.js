// The page the chromium adapter opens in the browser. It long-polls the
// adapter for the next job, runs it with the browser's own WebSocket through
// the JavaScript kit's whatwg-job.js (../js-common/, shared with node-undici;
// the adapter serves it and its recorder.js and event-job.js before this
// file) and posts the observation back.

/* global wsreplayWhatwg */
'use strict'

const generation = new URLSearchParams(location.search).get('gen') || '0'

const host = {
  open (url, protocols) {
    // TLS trust is the browser's: the adapter put the run's CA in its NSS store.
    return new WebSocket(url, protocols)
  },
  // The application is busy: the main thread spins, so no event is
  // dispatched to the page meanwhile. (Atomics.wait is not allowed on a
  // page's main thread.) The browser's network process keeps reading.
  block (ms) {
    const end = performance.now() + ms
    while (performance.now() < end) { /* busy */ }
  },
  ping: null, // the browser API cannot send a ping
  // Chromium offers `permessage-deflate; client_max_window_bits` on every
  // handshake and has no switch for it (see the adapter's README).
  offer: { client_max_window_bits: true },
  errorInfo (ev) {
    return { type: (ev && ev.constructor && ev.constructor.name) || 'Event', message: 'error event (the browser API gives no details)' }
  }
}

async function post (path, body) {
  const response = await fetch(`${path}?gen=${generation}`, {
    method: 'POST',
    cache: 'no-store',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body)
  })
  return response
}

function log (text) {
  post('/log', { text: String(text) }).catch(() => {})
}

window.addEventListener('error', (ev) => log(`page error: ${ev.message} at ${ev.filename}:${ev.lineno}`))
window.addEventListener('unhandledrejection', (ev) => log(`page rejection: ${ev.reason && (ev.reason.stack || ev.reason)}`))

async function describeBrowser () {
  const info = { userAgent: navigator.userAgent, fullVersionList: null }
  try {
    const values = await navigator.userAgentData.getHighEntropyValues(['fullVersionList'])
    info.fullVersionList = values.fullVersionList || null
  } catch (_) { /* not exposed: the adapter asks the binary */ }
  return info
}

async function main () {
  await post('/hello', await describeBrowser())
  for (;;) {
    let response
    try {
      response = await post('/next', {})
    } catch (_) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      continue
    }
    if (response.status === 410) return // a newer page took over
    if (response.status !== 200) continue // 204: nothing yet, poll again
    const job = await response.json()
    const observation = await wsreplayWhatwg.runJob(job, host)
    for (let tries = 0; tries < 3; tries++) {
      try {
        await post('/result', observation)
        break
      } catch (err) {
        log(`posting the observation failed: ${err}`)
      }
    }
  }
}

main().catch((err) => log(`page main failed: ${err && (err.stack || err)}`))
