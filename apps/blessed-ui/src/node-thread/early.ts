/**
 * The node's thread, made as early as possible (`bin/parley-tui.js` takes one before it loads the rest): it
 * then loads the node's bundle on the other CPU while this thread loads the screen's, instead of after it.
 * Nothing here imports the node's modules; the node starts only when `NodeThread.start` says so, once the
 * flags are checked.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'

const require = createRequire(import.meta.url)
let early: Worker | undefined

/**
 * Takes `worker` as the thread made early: `bin/parley-tui.js` makes it with this module as tsc wrote it,
 * then runs the screen from its bundle, which holds a copy of this module of its own.
 */
export function adoptNodeWorker(worker: Worker): void {
  early ??= worker
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
  // Found through the package's own name, which is right from dist/ and from a bundle of it alike.
  const root = dirname(require.resolve('@parley/blessed-ui/package.json'))
  return new Worker(join(root, 'bin', 'node-host.cjs'), { workerData: { parleyNodeThread: true } })
}
