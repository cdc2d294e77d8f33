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

/**
 * The thread runs node-host.js bundled with everything it imports (bin/node-host.cjs loads the bundle the
 * build makes, with its code cache): the thread then starts the node in a fraction of the time that loading
 * its modules one by one took, and is ready before the screen's thread has loaded blessed.
 */
function nodeWorker(): Worker {
  return new Worker(new URL('../../bin/node-host.cjs', import.meta.url), {
    workerData: { parleyNodeThread: true },
  })
}
