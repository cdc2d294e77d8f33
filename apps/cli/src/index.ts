import { runProgram } from '@parley/launcher'
import { main } from './main.js'

export type { Io } from './main.js'
export { main, SUMMARY, version } from './main.js'

/** The `parley` executable: wires the process to `main` and exits with its code. Never prints a stack trace. */
export function run(argv: readonly string[]): void {
  process.stdout.on('error', () => process.exit(0))
  runProgram({ name: 'parley' }, (interrupted) =>
    main(argv, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      interrupted,
    }),
  )
}
