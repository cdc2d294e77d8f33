/**
 * A private tmux server whose socket lives in a test's own folder. With `-L`, tmux puts its socket in
 * the shared /tmp/tmux-UID, and `kill-server` (tmux 3.3a) leaves the file there: every run left dozens.
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'

/** A Unix socket path must fit in `sun_path` (108 bytes on Linux, 104 on macOS), with room to spare. */
const SOCKET_PATH_LIMIT = 100

/**
 * The socket of a tmux server for `-S`, inside `dir`: removing the folder removes it.
 * @example const socket = tmuxSocketIn(tempDir('parley-terminal-'))
 */
export function tmuxSocketIn(dir: string): string {
  const socket = join(dir, 'tmux')
  if (Buffer.byteLength(socket) > SOCKET_PATH_LIMIT)
    throw new Error(`tmux socket path too long for a Unix socket (${socket}): use a shorter TMPDIR`)
  return socket
}

/** Stops the tmux server on `socket` if it still runs, and removes the socket file, which it leaves. */
export function stopTmux(socket: string): void {
  try {
    execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' })
  } catch {
    // Already gone.
  }
  rmSync(socket, { force: true })
}
