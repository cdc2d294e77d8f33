/** Spawns the built `parley` binary and reads its output line by line, for end-to-end tests. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { showOnFailure, TAIL_LINES, tailOf } from './failure-report.js'

export const PARLEY_BIN = fileURLToPath(new URL('../../../apps/cli/bin/parley.cjs', import.meta.url))
/** What the `parley` binary runs: every package bundled into one file (see apps/cli/bin/boot.cjs). */
const BUNDLE = fileURLToPath(new URL('../../../apps/cli/dist/parley.cjs', import.meta.url))
const PACKAGES = fileURLToPath(new URL('../../../packages', import.meta.url))

/**
 * The binary is built, and from the packages as they are built now: a package rebuilt alone (`pnpm
 * --filter`) is not in the binary until the CLI is rebuilt too, and the tests would run the old code.
 */
export function assertBuilt(): void {
  assertBundled(BUNDLE, 'apps/cli')
}

/**
 * The same for any app's bundle (`app` names the app, e.g. `apps/blessed-ui`, whose build makes it in its
 * dist/): also newer than the app's own modules there, which a `tsc` run alone rewrites.
 */
export function assertBundled(bundle: string, app: string): void {
  if (!existsSync(bundle))
    throw new Error(`${app} is not built: run \`pnpm build\` before the end-to-end tests`)
  const bundled = statSync(bundle).mtimeMs
  const dist = dirname(bundle)
  const own = (readdirSync(dist, { recursive: true }) as string[]).find(
    (file) => file.endsWith('.js') && statSync(join(dist, file)).mtimeMs > bundled,
  )
  if (own)
    throw new Error(
      `${app}/dist/${own} was built after ${app} bundled it: run \`pnpm build\`, which bundles it again`,
    )
  for (const name of readdirSync(PACKAGES)) {
    const dist = join(PACKAGES, name, 'dist', 'index.js')
    if (existsSync(dist) && statSync(dist).mtimeMs > bundled)
      throw new Error(
        `packages/${name} was built after ${app} bundled it: run \`pnpm build\`, which rebuilds ${app} too`,
      )
  }
}

export interface Proc {
  /** `parley#N` and its arguments, as failure reports name it. */
  readonly label: string
  readonly child: ChildProcessWithoutNullStreams
  readonly stdout: string[]
  readonly stderr: string[]
  /**
   * Resolves with the first line (on the stream) matching `pattern`, waiting for it if needed. The
   * timeout is a ceiling that only catches a hang; the rejection names the process and shows its tail.
   */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<string>
  /** The process's exit status and the tail of both its streams, as a failure report shows them. */
  describe(): string
  send(line: string): void
  end(): void
  readonly exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): void
}

/**
 * A fresh, empty folder: inside the test run's own folder when the tests run (`PARLEY_TEST_TMP`, made and
 * removed by the shared vitest setup), otherwise under the system temp dir.
 */
export function tempDir(prefix = 'parley-e2e-'): string {
  const parent = process.env.PARLEY_TEST_TMP ?? tmpdir()
  mkdirSync(parent, { recursive: true })
  return mkdtempSync(join(parent, prefix))
}

/** A ceiling for waits on a process's output: long enough for a loaded machine, short of a test's. */
export const WAIT_CEILING_MS = 60_000

let spawned = 0

/**
 * Starts the built `parley`. If the current test fails, the failure message ends with the tail of
 * this process's stdout and stderr. Unless `env` says otherwise, each process gets its own empty
 * XDG_DATA_HOME, so its default data dir never collides with another test's or the user's.
 */
export function spawnParley(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [PARLEY_BIN, ...args], {
    env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: tempDir(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const lines = { stdout: [] as string[], stderr: [] as string[] }
  const waiters: { stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (line: string) => void }[] = []
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = ''
    child[stream].setEncoding('utf8')
    child[stream].on('data', (chunk: string) => {
      partial += chunk
      const parts = partial.split('\n')
      partial = parts.pop() ?? ''
      for (const line of parts) {
        lines[stream].push(line)
        for (const w of [...waiters]) {
          if (w.stream === stream && w.pattern.test(line)) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(line)
          }
        }
      }
    })
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const label = `parley#${++spawned} ${args.join(' ')}`
  const status = () =>
    child.exitCode !== null
      ? `exited with ${child.exitCode}`
      : child.signalCode !== null
        ? `killed by ${child.signalCode}`
        : 'still running'
  const describe = () =>
    [
      `--- ${label} (pid ${child.pid}, ${status()})`,
      `  stderr (last ${Math.min(lines.stderr.length, TAIL_LINES)} of ${lines.stderr.length} lines):`,
      tailOf(lines.stderr),
      `  stdout (last ${Math.min(lines.stdout.length, TAIL_LINES)} of ${lines.stdout.length} lines):`,
      tailOf(lines.stdout),
    ].join('\n')
  showOnFailure(describe)
  return {
    label,
    describe,
    child,
    stdout: lines.stdout,
    stderr: lines.stderr,
    exited,
    waitFor(stream, pattern, timeoutMs = WAIT_CEILING_MS) {
      const found = lines[stream].find((l) => pattern.test(l))
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `expected a ${stream} line matching ${pattern} from ${label} within ${timeoutMs} ms (${status()})`,
            ),
          )
        }, timeoutMs)
        waiters.push({
          stream,
          pattern,
          resolve: (line) => {
            clearTimeout(timer)
            resolve(line)
          },
        })
      })
    },
    send(line) {
      child.stdin.write(`${line}\n`)
    },
    end() {
      child.stdin.end()
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
    },
  }
}

/** The port a process reported in its "listening on HOST:PORT" line. */
export async function listeningPort(proc: Proc): Promise<number> {
  const line = await proc.waitFor('stderr', /listening on /)
  const match = /:(\d+)$/.exec(line)
  if (!match) throw new Error(`no port in "${line}"`)
  return Number(match[1])
}

/**
 * A port that was free a moment ago, for a process that must listen on a port known in advance (and keep
 * it across restarts). It is picked below the kernel's ephemeral range: a port that port 0 hands out comes
 * from that range, which every outgoing connection on the machine also draws its source port from, so
 * once released it could be taken by some other test's connection before the process binds it again
 * ("could not listen", exit 3). Falls back to port 0 if no port below the range is free.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [low, high] = [10_000, ephemeralStart()]
  for (let attempt = 0; attempt < 50 && high > low; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    // Claimed first: a port handed out for a peer that is not up yet stays free until that peer binds it,
    // and another test file running meanwhile must not be handed it too (its node would answer the dials
    // meant for the absent peer, with another key).
    if (!claimPort(port)) continue
    if ((await bindAndRelease(host, port)) === port) return port
  }
  const port = await bindAndRelease(host, 0)
  if (port === undefined) throw new Error(`no free port on ${host}`)
  return port
}

/** Ports this process was handed by `freePort`, each claimed by a file of the same name in `PORT_CLAIMS`. */
const PORT_CLAIMS = join(tmpdir(), 'parley-test-ports')
const claimed: number[] = []
let swept = false

/**
 * Claims `port` for this process until it exits, so that no other test process's `freePort` hands it out:
 * a file named by the port in `PORT_CLAIMS`, holding this process's pid. A claim whose process is gone (a
 * run killed before its exit hook) is taken over.
 */
function claimPort(port: number): boolean {
  const file = join(PORT_CLAIMS, String(port))
  try {
    mkdirSync(PORT_CLAIMS, { recursive: true })
    if (!swept) {
      // Test workers are often killed rather than exited, so their exit hooks never run: the first claim of
      // each process clears the claims of processes that are gone.
      swept = true
      sweepClaims()
      process.on('exit', releaseClaims)
    }
    for (let tries = 0; tries < 2; tries++) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' })
        claimed.push(port)
        return true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const owner = Number(readFileSync(file, 'utf8'))
        // Not written yet (just made by its owner), ours already, or its owner still runs: taken.
        if (!(owner > 0) || owner === process.pid || isAlive(owner)) return false
        rmSync(file, { force: true })
      }
    }
    return false
  } catch {
    // No shared place to claim ports in: pick as before, unclaimed.
    return true
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function sweepClaims(): void {
  for (const name of readdirSync(PORT_CLAIMS)) {
    const file = join(PORT_CLAIMS, name)
    try {
      const owner = Number(readFileSync(file, 'utf8'))
      if (owner > 0 && !isAlive(owner)) rmSync(file, { force: true })
    } catch {
      // Released meanwhile by its owner.
    }
  }
}

function releaseClaims(): void {
  for (const port of claimed.splice(0)) rmSync(join(PORT_CLAIMS, String(port)), { force: true })
}

/** Where the ephemeral source ports start (Linux), or the usual start of the range elsewhere. */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    )
    return Number.isInteger(first) && first > 1024 ? first : 32_768
  } catch {
    return 32_768
  }
}

/** Binds `port` (0: any), releases it, and says which port it got; undefined when it is taken. */
function bindAndRelease(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, host, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address ? address.port : undefined
      server.close(() => resolve(bound))
    })
  })
}
