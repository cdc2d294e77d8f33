/**
 * What every parley executable does around its `main`: one line and a distinct exit code for every
 * failure (never a stack trace unless PARLEY_DEBUG is set), clean shutdown on the first signal and an
 * immediate exit on the second, and a final `exit` so a lingering socket or timer cannot hold the process.
 */
import { closeSync, openSync, readFileSync } from 'node:fs'
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
  // One line: the rest of a long message (Node's `Require stack:` of a missing module) is in the stack
  // that PARLEY_DEBUG prints.
  const text = error instanceof Error ? error.message : String(error)
  const message = terminalSafe(text.split('\n', 1)[0] ?? '')
  stderr.write(`${program}: internal error: ${message} (please report this)\n`)
  if (env.PARLEY_DEBUG && error instanceof Error) stderr.write(`${error.stack}\n`)
  return ExitCode.INTERNAL
}

/** How long a program ending on a failure waits for what was running to stop, at most. */
const ENDING_CEILING_MS = 10_000

/** Set while `runProgram` runs in this thread: ends it with a failure that `main` does not wait on. */
let endRun: ((error: FatalError, stopped: Promise<unknown>) => void) | undefined

/**
 * Ends the program that `runProgram` runs in this thread with `error`'s line and exit code, as a failure
 * of `main` would, once `stopped` settles (what was running has closed its files): for a failure `main`
 * does not wait on, such as the data dir failing under a running node. From this call on, that is how the
 * program ends, whatever `main` returns or throws meanwhile. Returns false when no program runs in this
 * thread (a test, a worker thread, a library): the caller must then stop on its own.
 */
export function endProgram(error: FatalError, stopped: Promise<unknown> = Promise.resolve()): boolean {
  if (!endRun) return false
  endRun(error, stopped)
  return true
}

export interface ProgramOptions {
  readonly name: string
  readonly signals?: readonly NodeJS.Signals[]
  /** Runs before the process ends on any path (for example, restoring the terminal). */
  readonly cleanup?: () => void
}

/** The process's own streams and environment, as an app hands them to its `main`. */
export function processIo(): {
  readonly stdin: NodeJS.ReadStream
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
  readonly env: NodeJS.ProcessEnv
} {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }
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
  // The terminal hung up: SIGHUP says so, and so does EIO from its streams, which may come first.
  let hungUp = false
  for (const stream of [process.stdin, process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EIO') hungUp = true
    })
  const exit = (code: number): never => {
    if (hungUp) leaveHungUpTerminal()
    return process.exit(code)
  }
  const interrupted = new Promise<void>((resolve) => {
    let count = 0
    const onSignal = (signal: NodeJS.Signals) => {
      if (signal === 'SIGHUP') hungUp = true
      count++
      if (count === 1) resolve()
      else {
        cleanup()
        exit(130)
      }
    }
    for (const signal of options.signals ?? ['SIGINT', 'SIGTERM']) process.on(signal, onSignal)
  })
  // Once the program is ending on a failure, that failure is the one told, and only once what was running
  // has stopped (bye said, files closed): whatever else fails or returns meanwhile waits for it. A stop
  // that never comes is given up on after ENDING_CEILING_MS.
  let ending: FatalError | undefined
  const crash = (error: unknown) => {
    if (ending) return
    cleanup()
    exit(reportFailure(options.name, error))
  }
  endRun = (error, stopped) => {
    if (ending) return
    ending = error
    const end = () =>
      setImmediate(() => {
        cleanup()
        exit(reportFailure(options.name, error))
      })
    setTimeout(end, ENDING_CEILING_MS).unref()
    stopped.then(end, end)
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)
  process.on('exit', cleanup)
  main(interrupted).then((code) => {
    if (ending) return
    process.exitCode = code
    // Flush, then leave even if a socket or timer is still winding down.
    setImmediate(() => {
      if (!ending) exit(code)
    })
  }, crash)
}

/**
 * The terminal hung up (SIGHUP): stdin, stdout and stderr are pointed at /dev/null before the process
 * ends. On the way out Node.js sets a terminal it started on back as it found it, and Node.js 20 aborts
 * (a native stack, SIGABRT, perhaps a core file) when that terminal is gone; a descriptor that no longer
 * names the terminal is left alone.
 */
function leaveHungUpTerminal(): void {
  for (const fd of [0, 1, 2]) {
    try {
      closeSync(fd)
      // The lowest free descriptor: the one just closed.
      openSync('/dev/null', fd === 0 ? 'r' : 'w')
    } catch {
      // Nothing more to do on the way out.
    }
  }
}

/** The `version` field of the package.json next to (or above) the module at `moduleUrl`. */
export function packageVersion(packageJsonUrl: URL): string {
  const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version: string }
  return pkg.version
}
