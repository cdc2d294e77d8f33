import { runProgram } from '@parley/launcher'
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
  runProgram({ name: 'parley' }, (interrupted) =>
    main(argv, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      interrupted,
      outputClosed,
    }),
  )
}
