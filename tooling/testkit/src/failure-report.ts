/**
 * When a test fails, its message alone rarely says why: the cause is usually in what a process printed.
 * Whatever a test started registers a describer here; when the test fails, every describer's text is
 * appended to the failure message, so a CI log alone shows the tail of each process's output.
 */
import { afterEach } from 'vitest'

/** Lines of each stream shown per process. */
export const TAIL_LINES = 40

const describers = new Set<() => string>()

/**
 * Appends `describe()` to the current test's failure message if it fails. Forgotten after the test.
 * @returns a function that forgets it earlier
 */
export function showOnFailure(describe: () => string): () => void {
  describers.add(describe)
  return () => describers.delete(describe)
}

/** The last `count` lines of `lines`, indented, with how many were left out. */
export function tailOf(lines: readonly string[], count = TAIL_LINES): string {
  if (lines.length === 0) return '    (nothing)'
  const shown = lines.slice(-count).map((line) => `    ${line}`)
  const left = lines.length - shown.length
  return (left > 0 ? [`    (${left} earlier lines left out)`, ...shown] : shown).join('\n')
}

/** What every registered describer says now, or '' when nothing is registered. */
export function failureReport(): string {
  const parts: string[] = []
  for (const describe of describers) {
    try {
      parts.push(describe())
    } catch (error) {
      parts.push(`(could not describe a process: ${String(error)})`)
    }
  }
  return parts.length === 0 ? '' : `\n\n${parts.join('\n\n')}`
}

// Registered once per test file (each file imports its own copy of this module): runs after the
// file's own afterEach hooks have stopped the processes, so the tails include their last words.
afterEach((context) => {
  const result = context.task.result
  if (result?.state === 'fail' && describers.size > 0) {
    const report = failureReport()
    for (const error of result.errors ?? []) error.message = `${error.message}${report}`
  }
  describers.clear()
})
