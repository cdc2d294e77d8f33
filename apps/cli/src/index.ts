import { main } from './main.js'

export type { Io } from './main.js'
export { main, SUMMARY, version } from './main.js'

/** The `parley` executable: wires the process to `main` and exits with its code. Never prints a stack trace. */
export function run(argv: readonly string[]): void {
  const interrupted = new Promise<void>((resolve) => {
    let count = 0
    const onSignal = () => {
      count++
      if (count === 1) resolve()
      else process.exit(130)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  const crash = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`parley: internal error: ${message} (please report this)\n`)
    if (process.env.PARLEY_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`)
    process.exit(1)
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  process.stdout.on('error', () => process.exit(0))
  // On Linux, Node writes to a pipe asynchronously: a line "shown" could still sit in this process when it
  // dies, after its ack went out. Blocking writes put every shown line in the kernel before the ack.
  for (const stream of [process.stdout, process.stderr]) {
    ;(stream as unknown as { _handle?: { setBlocking?: (on: boolean) => void } })._handle?.setBlocking?.(true)
  }
  main(argv, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    interrupted,
  }).then((code) => {
    process.exitCode = code
    // Flush stdout/stderr, then leave even if a socket or timer is still winding down.
    setImmediate(() => process.exit(code))
  }, crash)
}
