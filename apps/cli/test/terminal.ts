/**
 * The line-mode CLI in a real terminal: one parley on a private tmux server, driven by its keys and read
 * from its screen, for the terminal tests.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PARLEY_BIN, stopTmux, tempDir, tmuxSocketIn } from '@parley/testkit'

/** Whether tmux is installed: the terminal tests are skipped, and say so, when it is not. */
export const HAS_TMUX = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** One parley on a private tmux server, in a cols x rows window; its exit code lands in a file. */
export class Terminal {
  private readonly dir = tempDir('parley-terminal-')
  private readonly socket = tmuxSocketIn(this.dir)
  private readonly exitFile = join(this.dir, 'exit-code')

  readonly stderrFile = join(this.dir, 'stderr')

  /**
   * With `inShell`, parley is typed into an interactive shell, which does job control (Ctrl-Z stops it as a
   * job, `fg` continues it), and with `'as a child'` run by a subshell that waits for it, as `pnpm parley`
   * runs it; else tmux runs it itself, in a process group the kernel never stops.
   */
  constructor(
    args: readonly string[],
    cols = 80,
    rows = 24,
    stderrToFile = false,
    inShell: boolean | 'as a child' = false,
  ) {
    const quoted = [process.execPath, PARLEY_BIN, ...args].map((a) => `'${a}'`).join(' ')
    const run = `${quoted}${stderrToFile ? ` 2>${this.stderrFile}` : ''}`
    const command = `${inShell === 'as a child' ? `(${run}; true)` : run}; echo $? > ${this.exitFile}`
    const size = ['-x', String(cols), '-y', String(rows)]
    if (!inShell) {
      this.tmux('new-session', '-d', ...size, '-s', 'cli', `${command}; sleep 600`)
      return
    }
    this.tmux('new-session', '-d', ...size, '-s', 'cli', "env PS1='$ ' bash --norc --noprofile -i")
    this.line(command)
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
  }

  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'cli').replace(/\n+$/, '').split('\n')
  }

  type(text: string): void {
    this.tmux('send-keys', '-t', 'cli', '-l', text)
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'cli', ...keys)
  }

  /** Pastes `text` as a terminal does, marked as a paste when the program asked for that. */
  paste(text: string): void {
    this.tmux('set-buffer', '-b', 'pasted', text)
    this.tmux('paste-buffer', '-p', '-d', '-b', 'pasted', '-t', 'cli')
  }

  /** Types `text` and Enter. */
  line(text: string): void {
    this.type(text)
    this.keys('Enter')
  }

  exitCode(): number | undefined {
    if (!existsSync(this.exitFile)) return undefined
    const text = readFileSync(this.exitFile, 'utf8').trim()
    return text === '' ? undefined : Number(text)
  }

  async until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const value = probe()
      if (value !== undefined && value !== false) return value
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; screen:\n${this.screen().join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** The screen, once `probe` holds of it. */
  seen(what: string, probe: (screen: string[]) => boolean): Promise<string[]> {
    return this.until(what, () => {
      const screen = this.screen()
      return probe(screen) && screen
    })
  }

  /** Closes the window: the terminal hangs up under parley. Its folder stays, for the stderr file. */
  kill(): void {
    stopTmux(this.socket)
  }
}
