/**
 * The executable's entry (`bin/parley-tui.js` runs it from dist/parley-tui.cjs, the bundle the build makes
 * of it): what it needs to read the flags and start the node thread. The screen (blessed, the model, the
 * width tables) is initialized by `main` while the node starts. The package's other exports are in index.ts.
 */
import type { Worker } from 'node:worker_threads'
import { processIo, runProgram } from '@parley/launcher'
import { main } from './main.js'
import { adoptNodeWorker } from './node-thread/early.js'
import { restoreTerminal } from './view/terminal.js'

export { loadScreen } from './main.js'

/**
 * The `parley-tui` executable: wires the process to `main`, restores the terminal on every way out, exits.
 * `nodeWorker`: the node's thread, made by the executable before it loaded this.
 */
export function run(argv: readonly string[], options: { readonly nodeWorker?: Worker } = {}): void {
  if (options.nodeWorker) adoptNodeWorker(options.nodeWorker)
  // A terminal that hung up fails every write (EIO): SIGHUP, on its way, shuts the node down cleanly; the
  // screen has nobody left to show to, so the failed writes are dropped rather than thrown.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
  runProgram(
    { name: 'parley-tui', signals: ['SIGINT', 'SIGTERM', 'SIGHUP'], cleanup: restoreTerminal },
    (interrupted) => main(argv, { ...processIo(), interrupted }),
  )
}
