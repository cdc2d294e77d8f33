/**
 * What `bin/parley-tui.js` loads: the executable and what it needs to read the flags and start the node
 * thread, and nothing of the screen (blessed, the model, the width tables), which `main` loads while the
 * node starts. The package's other exports are in index.ts.
 */
import { runProgram } from '@parley/launcher'
import { main } from './main.js'
import { restoreTerminal } from './view/terminal.js'

/** The `parley-tui` executable: wires the process to `main`, restores the terminal on every way out, exits. */
export function run(argv: readonly string[]): void {
  // A terminal that hung up fails every write (EIO): SIGHUP, on its way, shuts the node down cleanly; the
  // screen has nobody left to show to, so the failed writes are dropped rather than thrown.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
  runProgram(
    { name: 'parley-tui', signals: ['SIGINT', 'SIGTERM', 'SIGHUP'], cleanup: restoreTerminal },
    (interrupted) =>
      main(argv, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        env: process.env,
        interrupted,
      }),
  )
}
