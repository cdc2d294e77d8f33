/**
 * What every parley executable does around its `main`: one line and a distinct exit code for every
 * failure (never a stack trace unless PARLEY_DEBUG is set), clean shutdown on the first signal and an
 * immediate exit on the second, and a final `exit` so a lingering socket or timer cannot hold the process.
 */
import { readFileSync } from 'node:fs'
import { terminalSafe } from './display.js'
import { ExitCode, FatalError } from './exit-codes.js'

/** Writes the one-line explanation of `error` to `stderr` and returns the exit code it deserves. */
export function reportFailure(
  program: string,
  error: unknown,
  stderr: NodeJS.WritableStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): number {
  // A message may quote what was given (a line of a file, a flag's value): its control bytes are shown,
  // not sent to the terminal.
  if (error instanceof FatalError) {
    stderr.write(`${program}: ${terminalSafe(error.message)}\n`)
    return error.exitCode
  }
  const message = terminalSafe(error instanceof Error ? error.message : String(error))
  stderr.write(`${program}: internal error: ${message} (please report this)\n`)
  if (env.PARLEY_DEBUG && error instanceof Error) stderr.write(`${error.stack}\n`)
  return ExitCode.INTERNAL
}

export interface ProgramOptions {
  readonly name: string
  readonly signals?: readonly NodeJS.Signals[]
  /** Runs before the process ends on any path (for example, restoring the terminal). */
  readonly cleanup?: () => void
}

/**
 * Runs `main` as the process: `interrupted` resolves on the first signal; a second signal exits 130.
 * @example runProgram({ name: 'parley' }, (interrupted) => main(argv, { ...io, interrupted }))
 */
export function runProgram(
  options: ProgramOptions,
  main: (interrupted: Promise<void>) => Promise<number>,
): void {
  const cleanup = options.cleanup ?? (() => undefined)
  const interrupted = new Promise<void>((resolve) => {
    let count = 0
    const onSignal = () => {
      count++
      if (count === 1) resolve()
      else {
        cleanup()
        process.exit(130)
      }
    }
    for (const signal of options.signals ?? ['SIGINT', 'SIGTERM']) process.on(signal, onSignal)
  })
  const crash = (error: unknown) => {
    cleanup()
    process.exit(reportFailure(options.name, error))
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  process.on('exit', cleanup)
  main(interrupted).then((code) => {
    process.exitCode = code
    // Flush, then leave even if a socket or timer is still winding down.
    setImmediate(() => process.exit(code))
  }, crash)
}

/** The `version` field of the package.json next to (or above) the module at `moduleUrl`. */
export function packageVersion(packageJsonUrl: URL): string {
  const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version: string }
  return pkg.version
}
