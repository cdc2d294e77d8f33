/**
 * Makes the node's thread as early as possible: it then loads the node's modules (the launcher, libsodium,
 * the store) on the other CPU while this thread loads blessed and its own, instead of after them. Nothing
 * here imports them; the node starts only when `NodeThread.start` says so, once the flags are checked.
 */
import { Worker } from 'node:worker_threads'

let early: Worker | undefined

/** Makes the node's thread now (for `bin/parley-tui.js`, before it loads the rest). */
export function makeNodeThreadEarly(): void {
  early ??= nodeWorker()
}

/** The thread made early, or a new one. */
export function takeNodeWorker(): Worker {
  const worker = early ?? nodeWorker()
  early = undefined
  return worker
}

function nodeWorker(): Worker {
  return new Worker(new URL('./node-host.js', import.meta.url), { workerData: { parleyNodeThread: true } })
}
