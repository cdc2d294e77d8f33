'use strict'
// The node thread's entry (see src/node-thread/early.ts): its bundle serves the node once loaded.
const { parentPort } = require('node:worker_threads')
const { load, BUNDLE } = require('./node-host-boot.cjs')

try {
  load()
} catch (error) {
  // Thrown here, it would reach the screen's thread as an 'error' event, perhaps before anything listens
  // (the thread is made early) and crash it with a stack trace. It is the answer to `start` instead: one
  // line, as `parley` says it, and exit 1, as for any other fault of the installation itself.
  const hint =
    error.code === 'ENOENT'
      ? 'reinstall parley-tui, or run pnpm build in its repository'
      : 'please report this'
  parentPort?.once('message', () => {
    parentPort.postMessage({
      type: 'failed',
      exitCode: 1,
      message: `internal error: cannot load ${BUNDLE}: ${error.message} (${hint})`,
    })
  })
}
