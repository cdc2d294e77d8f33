import { execFile, execFileSync } from 'node:child_process'

/** A failed lab command, with what it printed: the setup stops at the first one. */
export class LabCommandError extends Error {
  override name = 'LabCommandError'
  readonly code = 'LAB_COMMAND'
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`lab command failed: ${argv.join(' ')}: ${stderr.trim() || 'no output'}`, options)
  }
}

/** Runs one command (no shell), resolving with its stdout or rejecting with a LabCommandError. */
export function run(argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0] as string, argv.slice(1), { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new LabCommandError(argv, String(stderr || error.message), { cause: error }))
      else resolve(String(stdout))
    })
  })
}

/** For teardown from `exit` and signal handlers, where only synchronous work still runs. */
export function runSync(argv: readonly string[]): boolean {
  try {
    execFileSync(argv[0] as string, argv.slice(1), { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

/** Whether `name` is a program on PATH (or at an absolute path). */
export function hasProgram(name: string): boolean {
  return runSync(['sh', '-c', `command -v ${name}`])
}
