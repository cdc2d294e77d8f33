/** Drives the built parley-tui inside a private tmux server, with the built parley CLI as the peer. */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  assertBundled,
  assertBuilt as assertCliBuilt,
  stopTmux,
  tempDir,
  tmuxSocketIn,
} from '@parley/testkit'
import { afterEach, beforeAll, describe } from 'vitest'

export const TUI_BIN = fileURLToPath(new URL('../bin/parley-tui.js', import.meta.url))
export const CLI_BIN = fileURLToPath(new URL('../../cli/bin/parley.cjs', import.meta.url))
const BUILT = fileURLToPath(new URL('../dist/index.js', import.meta.url))
/** What parley-tui runs: its screen side and its node thread, each bundled with what it imports. */
const BUNDLES = ['../dist/parley-tui.cjs', '../dist/node-host.cjs'].map((file) =>
  fileURLToPath(new URL(file, import.meta.url)),
)

/** parley-tui is built, and so is the CLI the tests run as its peer, from the packages as built now. */
export function assertBuilt(): void {
  if (!existsSync(BUILT))
    throw new Error(`not built (${BUILT}): run \`pnpm build\` before the end-to-end tests`)
  for (const bundle of BUNDLES) assertBundled(bundle, 'apps/blessed-ui')
  assertCliBuilt()
}

export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * A `describe` of tests that drive the app in tmux: skipped where tmux is not installed (its title says
 * so), and first making sure what it runs is built.
 * @example describeInTmux('parley-tui in a real terminal', () => { it(…) })
 */
export function describeInTmux(subject: string, body: () => void): void {
  const present = hasTmux()
  const title = present ? `${subject} (tmux)` : `${subject}: SKIPPED, tmux is not installed`
  describe.skipIf(!present)(title, () => {
    beforeAll(() => assertBuilt())
    body()
  })
}

/** What a test starts: stopped after it, whether it passed or not. */
export interface Stage {
  /** A tmux server of its own for this test; one opened before in the same test is stopped first. */
  newTerminal(): Tmux
  /** parley-tui in a new terminal, started with `Tmux.startTui`'s arguments. */
  startTui(...start: Parameters<Tmux['startTui']>): Tmux
  /** parley-tui typed into an interactive shell in a new terminal (`Tmux.startTuiInShell`). */
  startTuiInShell(...start: Parameters<Tmux['startTuiInShell']>): Tmux
  /** The parley CLI as a peer (see `startCli`). */
  cli(name: string, extra?: string[]): CliPeer
}

/** Call once at the top of a test file: after each test, its terminal and its CLI peers are stopped. */
export function stage(): Stage {
  let terminal: Tmux | undefined
  const peers: CliPeer[] = []
  afterEach(async () => {
    terminal?.kill()
    terminal = undefined
    for (const peer of peers.splice(0)) await peer.stop()
  })
  const open = (): Tmux => {
    terminal?.kill()
    terminal = new Tmux()
    return terminal
  }
  return {
    newTerminal: open,
    startTui(...start) {
      const tui = open()
      tui.startTui(...start)
      return tui
    },
    startTuiInShell(...start) {
      const tui = open()
      tui.startTuiInShell(...start)
      return tui
    },
    cli(name, extra) {
      const peer = startCli(name, extra)
      peers.push(peer)
      return peer
    },
  }
}

/** The member panel's row of `name`: the text right of its border. */
export function panelRow(lines: string[], name: string): string | undefined {
  for (const line of lines) {
    const cell = line.split('│ ').at(-1) ?? ''
    if (new RegExp(`^[●○·~] ${name} `).test(cell)) return cell
  }
  return undefined
}

export async function until<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

// ---- on failure, the screen and every process's last output join the failure message ------------------

const describers = new Set<() => string>()
const tail = (lines: readonly string[], count = 40) =>
  lines.length === 0
    ? '    (nothing)'
    : lines
        .slice(-count)
        .map((line) => `    ${line}`)
        .join('\n')

// Registered when a test file imports the harness, so it runs after the file's own afterEach hooks
// have stopped everything: the TUI's last screen is kept by `kill` for this.
afterEach((context) => {
  const result = context.task.result
  if (result?.state === 'fail' && describers.size > 0) {
    const report = [...describers].map((describe) => describe()).join('\n\n')
    for (const error of result.errors ?? []) error.message = `${error.message}\n\n${report}`
  }
  describers.clear()
})

/** One tmux server on its own socket, in its own folder, so parallel test runs never meet. */
export class Tmux {
  readonly dir = tempDir('parley-tui-')
  readonly socket = tmuxSocketIn(this.dir)
  readonly exitFile = join(this.dir, 'exit-code')
  readonly traceFile = join(this.dir, 'trace')
  /** The screen and stderr as `kill` found them, for the failure report. */
  private last?: { screen: string[]; stderr: string; exit: number | undefined }

  constructor() {
    describers.add(() => {
      const { screen, stderr, exit } = this.last ?? this.snapshot()
      return [
        `--- parley-tui (exit code ${exit ?? 'none yet'}), last screen:`,
        tail(screen, 60),
        '  stderr:',
        tail(stderr.split('\n').filter(Boolean)),
      ].join('\n')
    })
  }

  private snapshot(): { screen: string[]; stderr: string; exit: number | undefined } {
    let screen: string[]
    try {
      screen = this.screen()
    } catch {
      screen = ['(the tmux server is gone)']
    }
    return { screen, stderr: this.stderr(), exit: this.exitCode() }
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
  }

  /** Starts parley-tui (`bin`: another copy's) in a cols x rows window; its exit code lands in `exitFile`. */
  startTui(args: string[], cols = 120, rows = 40, env: Record<string, string> = {}, bin = TUI_BIN): void {
    const command = `${this.tuiCommand(args, env, bin)}; echo $? > ${this.exitFile}; sleep 600`
    this.tmux('new-session', '-d', '-x', String(cols), '-y', String(rows), '-s', 'tui', command)
  }

  /**
   * parley-tui typed into an interactive shell, which does job control: Ctrl-Z stops it as a job and `fg`
   * continues it (a command tmux runs itself is in an orphaned process group, which the kernel never stops).
   * With `asChild`, a subshell that waits for it runs it, as `pnpm` or `npx` would.
   */
  startTuiInShell(args: string[], cols = 120, rows = 40, asChild = false): void {
    this.tmux(
      'new-session',
      '-d',
      '-x',
      String(cols),
      '-y',
      String(rows),
      '-s',
      'tui',
      "env PS1='$ ' bash --norc --noprofile -i",
    )
    const run = this.tuiCommand(args, {}, TUI_BIN)
    this.type(`${asChild ? `(${run}; true)` : run}; echo $? > ${this.exitFile}`)
    this.keys('Enter')
  }

  private tuiCommand(args: string[], env: Record<string, string>, bin: string): string {
    const quoted = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
    // Each node gets its own data dir: two nodes on one machine must not share (and lock) the default one.
    const vars = Object.entries({
      PARLEY_TUI_TRACE: this.traceFile,
      XDG_DATA_HOME: join(this.dir, 'data'),
      ...env,
    })
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ')
    return `env ${vars} ${quoted} 2>${this.dir}/stderr`
  }

  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'tui').replace(/\n$/, '').split('\n')
  }

  cursor(): { x: number; y: number } {
    const [x, y] = this.tmux('display-message', '-p', '-t', 'tui', '#{cursor_x} #{cursor_y}')
      .trim()
      .split(' ')
      .map(Number)
    return { x: x!, y: y! }
  }

  /** Keys by tmux name ("Enter", "C-c", "BSpace") or literal text with `literal`. */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'tui', ...keys)
  }

  type(text: string): void {
    this.tmux('send-keys', '-t', 'tui', '-l', text)
  }

  /** Pastes `text` as a terminal would, in bracketed paste mode if parley-tui turned it on (`paste-buffer -p`). */
  paste(text: string): void {
    const file = join(this.dir, 'paste')
    writeFileSync(file, text)
    this.tmux('load-buffer', '-b', 'paste', file)
    this.tmux('paste-buffer', '-p', '-d', '-b', 'paste', '-t', 'tui')
  }

  resize(cols: number, rows: number): void {
    this.tmux('resize-window', '-t', 'tui', '-x', String(cols), '-y', String(rows))
  }

  /** The pid of parley-tui, from the first line of its trace, once it has drawn its screen. */
  pid(): number | undefined {
    if (!existsSync(this.traceFile)) return undefined
    const match = / start (\d+)/.exec(readFileSync(this.traceFile, 'utf8'))
    return match ? Number(match[1]) : undefined
  }

  exitCode(): number | undefined {
    if (!existsSync(this.exitFile)) return undefined
    const text = readFileSync(this.exitFile, 'utf8').trim()
    return text === '' ? undefined : Number(text)
  }

  stderr(): string {
    const file = join(this.dir, 'stderr')
    return existsSync(file) ? readFileSync(file, 'utf8') : ''
  }

  async waitForScreen(
    what: string,
    test: (lines: string[]) => boolean,
    timeoutMs = 60_000,
  ): Promise<string[]> {
    try {
      return await until(
        what,
        () => {
          const lines = this.screen()
          return test(lines) ? lines : undefined
        },
        timeoutMs,
      )
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\nscreen:\n${this.screen().join('\n')}\nstderr: ${this.stderr()}\nresizes: ${this.resizes()}`,
      )
    }
  }

  /** The resizes parley-tui saw (its trace's `resize` lines), for a failure's message. */
  resizes(): string {
    if (!existsSync(this.traceFile)) return 'no trace'
    const lines = readFileSync(this.traceFile, 'utf8').split('\n')
    return lines.filter((l) => / resize /.test(l)).join('; ') || 'none'
  }

  kill(): void {
    this.last ??= this.snapshot()
    stopTmux(this.socket)
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export interface CliPeer {
  readonly child: ChildProcessWithoutNullStreams
  /** Parsed --json events from stdout. */
  readonly events: Record<string, unknown>[]
  readonly stderr: string[]
  send(line: string): void
  waitForEvent(
    what: string,
    test: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  port(): Promise<number>
  stop(): Promise<void>
}

/** The parley CLI in --json mode, listening on a free loopback port. */
export function startCli(name: string, extra: string[] = []): CliPeer {
  // Each node gets its own data dir: two nodes on one machine must not share (and lock) the default one.
  const data = tempDir('parley-cli-')
  const child = spawn(
    process.execPath,
    [CLI_BIN, '--listen', '127.0.0.1:0', '--name', name, '--json', ...extra],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: data },
    },
  )
  const events: Record<string, unknown>[] = []
  const stderr: string[] = []
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    const lines = out.split('\n')
    out = lines.pop() ?? ''
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>)
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk
    const lines = err.split('\n')
    err = lines.pop() ?? ''
    stderr.push(...lines)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  describers.add(() =>
    [
      `--- parley ${name} (the CLI peer, ${child.exitCode === null ? (child.signalCode ?? 'running') : `exit ${child.exitCode}`})`,
      '  stderr:',
      tail(stderr),
      '  last --json events:',
      tail(
        events.map((event) => JSON.stringify(event)),
        15,
      ),
    ].join('\n'),
  )
  const waitForEvent: CliPeer['waitForEvent'] = (what, test, timeoutMs = 60_000) =>
    until(`the CLI to report ${what}`, () => events.find(test), timeoutMs).catch((error: Error) => {
      throw new Error(
        `${error.message}\nevents: ${JSON.stringify(events.slice(-5))}\nstderr: ${stderr.join('\n')}`,
      )
    })
  return {
    child,
    events,
    stderr,
    send: (line) => child.stdin.write(`${line}\n`),
    waitForEvent,
    async port() {
      const event = await waitForEvent('listening', (e) => e.type === 'listening')
      return Number(/:(\d+)$/.exec(String(event.address))![1])
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
      rmSync(data, { recursive: true, force: true })
    },
  }
}
