/**
 * Ctrl-Z for an app that reads its terminal in raw mode, where the terminal sends no SIGTSTP by itself:
 * the process is stopped as a shell's job, and told when it runs again.
 */

/** A stop not followed by SIGCONT within this was dropped by the kernel (see `stopAsJob`). */
export const STOP_FALLBACK_MS = 250

/**
 * Stops this process's job (`SIGTSTP` to its process group, as a terminal's Ctrl-Z does); the caller gave
 * the terminal back first. `back` runs once, when it runs again: `stopped` is true after a real stop
 * (`fg`, `bg`), false where the kernel dropped the stop, as it does in an orphaned process group (a shell
 * without job control, or a command a terminal multiplexer runs itself), where nobody could continue it.
 * Returns false, calling nothing, where there are no job stops (Windows).
 * @example stopAsJob((stopped) => { takeScreenBack(); if (!stopped) say('not suspended') })
 */
export function stopAsJob(back: (stopped: boolean) => void, fallbackMs = STOP_FALLBACK_MS): boolean {
  if (process.platform === 'win32') return false
  let done = false
  const finish = (stopped: boolean) => {
    if (done) return
    done = true
    clearTimeout(fallback)
    process.removeListener('SIGCONT', continued)
    back(stopped)
  }
  const continued = () => finish(true)
  process.on('SIGCONT', continued)
  // The whole process group, as the terminal's own Ctrl-Z stops it: run through `pnpm parley` or `npx`,
  // parley is a child of the job the shell waits on, which must stop too, or the shell never takes the
  // terminal back. The kernel stops them at once, or drops the stop where nobody could continue them.
  process.kill(0, 'SIGTSTP')
  // A dropped stop sends no SIGCONT. After a real one, the continue signal is on Node's signal pipe before
  // this process runs again, and the poll phase that reads it comes before the check phase that runs this
  // immediate: a timer overdue from before the stop never wins.
  const fallback = setTimeout(() => setImmediate(() => finish(false)), fallbackMs)
  return true
}
