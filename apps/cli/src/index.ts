import { runProgram } from '@parley/launcher'
import { main } from './main.js'

export type { Io } from './main.js'
export { main, SUMMARY, version } from './main.js'

/** The `parley` executable: wires the process to `main` and exits with its code. Never prints a stack trace. */
export function run(argv: readonly string[]): void {
  process.stdout.on('error', () => process.exit(0))
  // On Linux, Node writes to a pipe asynchronously: a line "shown" could still sit in this process when it
  // dies, after its ack went out. Blocking writes put every shown line in the kernel before the ack.
  for (const stream of [process.stdout, process.stderr]) {
    ;(stream as unknown as { _handle?: { setBlocking?: (on: boolean) => void } })._handle?.setBlocking?.(true)
  }
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
