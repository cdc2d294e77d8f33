'use strict'
// The node thread's entry (see src/node-thread/early.ts): its bundle serves the node once loaded.
const { parentPort } = require('node:worker_threads')
const { load, cannotLoad } = require('./node-host-boot.cjs')

try {
  load()
} catch (error) {
  // Thrown here, it would reach the screen's thread as an 'error' event, perhaps before anything listens
  // (the thread is made early) and crash it with a stack trace. It is the answer to `start` instead: one
  // line, as the screen's own bundle says it, and exit 1.
  parentPort?.once('message', () => {
    parentPort.postMessage({ type: 'failed', exitCode: 1, message: cannotLoad(error, 'parley-tui') })
  })
}
