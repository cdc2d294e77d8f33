// What the parley-tui benchmarks that drive the real app in tmux share: the built binaries, a tmux server
// of their own, and waiting for a condition.
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** parley-tui (or another build's, given as `override`) and the parley CLI, once both are built. */
export function builtBinaries(override) {
  for (const built of ['../dist/index.js', '../../cli/dist/index.js']) {
    if (!existsSync(fileURLToPath(new URL(built, import.meta.url)))) {
      console.error('bench: run `pnpm build` first')
      process.exit(1)
    }
  }
  return {
    tui: override || fileURLToPath(new URL('../bin/parley-tui.js', import.meta.url)),
    cli: fileURLToPath(new URL('../../cli/bin/parley.cjs', import.meta.url)),
  }
}

/**
 * Runs tmux commands on a server of the benchmark's own, with no user configuration. Its socket is a path
 * (`-S`) in the benchmark's folder: with `-L` it would stay in the shared /tmp/tmux-UID after the run.
 */
export function tmuxOn(socket) {
  return (...args) => execFileSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
}

/** Stops the tmux server on `socket` if it still runs, and removes the socket file, which it leaves. */
export function stopTmux(socket) {
  try {
    execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' })
  } catch {
    // The server is already gone.
  }
  rmSync(socket, { force: true })
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every `everyMs` until it returns something truthy, which it returns; throws after `timeoutMs`. */
export async function until(what, probe, timeoutMs = 60_000, everyMs = 20) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}
