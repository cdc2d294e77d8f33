import { processIo, runProgram } from '@parley/launcher'
import { main } from './main.js'

export type { Io } from './main.js'
export { main, SUMMARY, version } from './main.js'

/** The `parley` executable: wires the process to `main` and exits with its code. Never prints a stack trace. */
export function run(argv: readonly string[]): void {
  // A reader that closes stdout (`| head`) stops parley the way a signal does: `main` says where it stopped
  // and exits 11. The listener stays: a later write to the closed stream must not throw again.
  const outputClosed = new Promise<NodeJS.ErrnoException>((resolve) => {
    process.stdout.on('error', resolve)
  })
  // With stderr gone too, there is nobody left to tell: its notes are dropped, not thrown.
  process.stderr.on('error', () => undefined)
  // A closed terminal (SIGHUP) is a way to leave, as Ctrl-C is: bye, the outbox kept, the data dir let go.
  // (Node.js starts with every signal at its default: `nohup` never kept a node running through one.)
  // Readline puts a terminal that hung up back out of raw mode, which fails (EIO): there is no mode left
  // to restore, and the failure must not stop the shutdown on its way.
  if (process.stdin.isTTY) {
    const setRawMode = process.stdin.setRawMode.bind(process.stdin)
    process.stdin.setRawMode = (mode: boolean) => {
      try {
        return setRawMode(mode)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EIO') return process.stdin
        throw error
      }
    }
  }
  runProgram({ name: 'parley', signals: ['SIGINT', 'SIGTERM', 'SIGHUP'] }, (interrupted) =>
    main(argv, { ...processIo(), interrupted, outputClosed }),
  )
}
