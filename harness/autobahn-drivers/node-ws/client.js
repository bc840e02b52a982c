'use strict';

// An Autobahn|Testsuite client driver for ws, written the way ws's own
// test/autobahn.js is: ask the fuzzing server for the case count, run every
// case (echo each message back, as text or binary as it came, until the
// server closes), then ask it to write the reports. The only change from a
// driver aimed at Autobahn is where the server address comes from:
// wsreplay's tests set WSREPLAY_AUTOBAHN_URL; left unset it is Autobahn's
// usual address.

const WebSocket = require('ws');
const { version } = require('ws/package.json');

const server = process.env.WSREPLAY_AUTOBAHN_URL || 'ws://127.0.0.1:9001';
const agent = process.env.WSREPLAY_AUTOBAHN_AGENT || `ws-${version}`;

let caseCount = 0;
let currentCase = 1;

function runCase() {
  if (currentCase > caseCount) {
    updateReports();
    return;
  }

  process.stdout.write(`Running test case ${currentCase} / ${caseCount}\n`);

  const ws = new WebSocket(
    `${server}/runCase?case=${currentCase}&agent=${encodeURIComponent(agent)}`
  );

  ws.on('message', (data, isBinary) => {
    // ws 8 says whether it was binary; before 8 a text message is a string
    ws.send(data, isBinary === undefined ? {} : { binary: isBinary });
  });

  ws.on('close', () => {
    currentCase++;
    process.nextTick(runCase);
  });

  ws.on('error', () => {});
}

function updateReports() {
  const ws = new WebSocket(
    `${server}/updateReports?agent=${encodeURIComponent(agent)}`
  );

  ws.on('close', () => {
    process.stdout.write(`Ran ${caseCount} test cases; reports updated\n`);
  });

  ws.on('error', (err) => {
    process.stderr.write(`updateReports: ${err.message}\n`);
    process.exitCode = 1;
  });
}

const ws = new WebSocket(`${server}/getCaseCount`);

ws.on('message', (data) => {
  caseCount = parseInt(data, 10);
});

ws.on('close', () => {
  if (caseCount > 0) runCase();
});

ws.on('error', (err) => {
  process.stderr.write(`getCaseCount: ${err.message}\n`);
  process.exitCode = 1;
});
