'use strict'
// Runs parley-tui's node thread from its bundle as the screen runs it, for bundle-bin.js:
// `node bundle-bin-train-node-thread.cjs BOOT CACHE WORK`. Two node threads on loopback: bob listens;
// alice, whose thread writes the code cache to CACHE when it ends, dials him and sends a line; both close
// once bob has shown it. BOOT is the thread's loader (bin/node-host-boot.cjs), WORK a folder for the data
// dirs. Neither reads or writes the user's own code caches (`localCache: false`).
const { join } = require('node:path')
const { Worker } = require('node:worker_threads')

const [boot, cacheOut, work] = process.argv.slice(2)
const TIMEOUT_MS = 60_000
// The thread's entry as bin/node-host.cjs has it, with the cache written when the thread ends.
const ENTRY = `const { workerData } = require('node:worker_threads')
require(workerData.boot).load({ cacheOut: workerData.cacheOut, localCache: false })`

/** A node thread started with `argv`; `until(test)` resolves with the first non-undefined `test(event)`. */
function nodeThread(name, argv, threadCacheOut) {
  const worker = new Worker(ENTRY, {
    eval: true,
    workerData: { parleyNodeThread: true, boot, cacheOut: threadCacheOut },
  })
  const waiting = []
  const exited = new Promise((resolve, reject) => {
    worker.on('error', reject)
    worker.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${name}'s thread exited with ${code}`)),
    )
  })
  worker.on('message', (message) => {
    for (const wait of [...waiting]) {
      if (message.type === 'failed') wait.reject(new Error(`${name} failed: ${message.message}`))
      if (message.type !== 'events') continue
      for (const [event] of message.events) {
        const found = wait.test(event)
        if (found !== undefined) {
          waiting.splice(waiting.indexOf(wait), 1)
          wait.resolve(found)
          break
        }
      }
    }
  })
  const data = { argv: [...argv, '--data-dir', join(work, name), '--name', name], env: { ...process.env } }
  worker.postMessage({ type: 'start', data, flow: new SharedArrayBuffer(8) })
  return {
    post: (message) => worker.postMessage(message),
    until: (test) => new Promise((resolve, reject) => waiting.push({ test, resolve, reject })),
    close: () => {
      worker.postMessage({ type: 'close', reason: 'quit' })
      return exited
    },
    exited,
  }
}

async function train() {
  const bob = nodeThread('bob', ['--listen', '127.0.0.1:0'])
  const port = await Promise.race([
    bob.until((event) => (event.type === 'listening' ? /:(\d+)$/.exec(event.address)?.[1] : undefined)),
    bob.exited.then(() => Promise.reject(new Error('bob ended before listening'))),
  ])
  const alice = nodeThread('alice', ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`], cacheOut)
  const shown = bob.until((event) => (event.type === 'message' ? true : undefined))
  await alice.until((event) => (event.type === 'connected' ? true : undefined))
  alice.post({ type: 'send', bodies: ['a line that makes the code cache'], ask: 1 })
  await shown
  await Promise.all([alice.close(), bob.close()])
}

const timer = setTimeout(() => {
  console.error('bundle-bin-train-node-thread: no line shown within 60 s')
  process.exit(1)
}, TIMEOUT_MS)
train().then(
  () => clearTimeout(timer),
  (error) => {
    console.error(`bundle-bin-train-node-thread: ${error.message}`)
    process.exit(1)
  },
)
