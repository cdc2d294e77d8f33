import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface TuiResult {
  messages: number
  renderedPerSec: number
  /** Over every key typed while a flood ran, pooled across the floods (`floods`). */
  keyEchoP50Ms: number
  keyEchoP90Ms: number
  /** Floods run, keys timed while they ran (all floods), and each flood's own p90. */
  floods?: number
  keys?: number
  floodP90sMs?: number[]
  /** One flood's keys as flood.js lists them (FLOOD_VERBOSE): what the floods' figures are pooled from. */
  samples?: number[]
  idleKeyEchoP50Ms?: number
  /** From the last message's arrival in parley-tui to it being visible in the tmux pane. */
  lastOnScreenMs?: number
  /** From spawning parley-tui in tmux to its first frame (with the `listening` line): one start. */
  firstFrameMs?: number
}

export type TuiOutcome = { status: 'measured'; result: TuiResult } | { status: 'skipped'; reason: string }

const ROOT = new URL('../../../', import.meta.url)
/** The TUI's own flood benchmark (apps/blessed-ui/bench/flood.js): it drives parley-tui in tmux. */
const FLOOD = fileURLToPath(new URL('apps/blessed-ui/bench/flood.js', ROOT))
const BUILT = ['apps/blessed-ui/dist/index.js', 'apps/cli/dist/index.js'].map((f) =>
  fileURLToPath(new URL(f, ROOT)),
)

/**
 * Runs the blessed-ui flood bench `floods` times with `messages` messages each and reads its figures from
 * its reports; the key echoes are pooled over every flood (one flood times about 20 keys, so its p90 is
 * the second slowest of them and moves from 6 to 80 ms between runs). parley-tui runs with `--rate 0`, like
 * every parley case here: the default per-peer limit (200 msg/s after a burst of 1,000) would make
 * rendered/s a measure of that policy, not of the renderer.
 */
export async function measureTui(messages: number, timeoutMs: number, floods = 1): Promise<TuiOutcome> {
  if (!existsSync(FLOOD)) return { status: 'skipped', reason: 'apps/blessed-ui/bench/flood.js is missing' }
  const missing = BUILT.find((file) => !existsSync(file))
  if (missing) return { status: 'skipped', reason: `not built (${missing}); run pnpm build` }
  if (spawnSync('sh', ['-c', 'command -v tmux']).status !== 0)
    return { status: 'skipped', reason: 'tmux is not installed' }
  const results: TuiResult[] = []
  for (let i = 0; i < floods; i++) {
    const { code, stdout, stderr } = await run(
      FLOOD,
      { FLOOD_MESSAGES: String(messages), FLOOD_RATE: '0', FLOOD_VERBOSE: '1' },
      timeoutMs,
    )
    if (code !== 0)
      return { status: 'skipped', reason: `the flood bench failed (${code}): ${lastLine(stderr)}` }
    const result = parseFlood(stdout, messages)
    if (!result && /while flooding\s+none/.test(stdout))
      return {
        status: 'skipped',
        reason: `the flood was over before a key got into it; try --tui-messages 10000`,
      }
    if (!result)
      return { status: 'skipped', reason: `could not read the flood bench's report: ${lastLine(stdout)}` }
    results.push(result)
  }
  return { status: 'measured', result: poolFloods(results) }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const p90 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] as number

/**
 * One result of several floods: key echoes over all their keys (percentiles as flood.js takes them), the
 * median of the rates and of the idle echo, and the slowest way of a last message to the screen (its
 * target is a bound). A flood without its list of keys (an earlier flood.js) pools nothing: its figures
 * are the first flood's.
 */
export function poolFloods(results: readonly TuiResult[]): TuiResult {
  const first = results[0]
  if (!first) throw new Error('poolFloods: no flood ran')
  if (results.some((r) => r.samples === undefined || r.samples.length === 0)) return first
  const keys = results.flatMap((r) => r.samples ?? [])
  const of = (pick: (r: TuiResult) => number | undefined) =>
    results.map(pick).filter((v): v is number => v !== undefined)
  const idle = of((r) => r.idleKeyEchoP50Ms)
  const lastOnScreen = of((r) => r.lastOnScreenMs)
  const firstFrame = of((r) => r.firstFrameMs)
  return {
    messages: first.messages,
    renderedPerSec: median(results.map((r) => r.renderedPerSec)),
    keyEchoP50Ms: median(keys),
    keyEchoP90Ms: p90(keys),
    floods: results.length,
    keys: keys.length,
    floodP90sMs: results.map((r) => r.keyEchoP90Ms),
    ...(idle.length > 0 ? { idleKeyEchoP50Ms: median(idle) } : {}),
    ...(lastOnScreen.length > 0 ? { lastOnScreenMs: Math.max(...lastOnScreen) } : {}),
    ...(firstFrame.length > 0 ? { firstFrameMs: median(firstFrame) } : {}),
  }
}

/**
 * Reads "(N messages rendered/s)", the key-echo medians, how long the last message took from its arrival
 * to the screen and how long parley-tui took to its first frame from flood.js's human report. rendered/s is end to
 * end: the CLI peer sends as fast as it can and parley-tui decrypts, checks and draws; "while flooding" counts
 * only the keys typed before the last message was drawn.
 */
export function parseFlood(text: string, messages: number): TuiResult | undefined {
  const rate = /\((\d+) messages rendered\/s\)/.exec(text)
  const flooding = /key echo while flooding\s+median (\d+(?:\.\d+)?) ms, p90 (\d+(?:\.\d+)?) ms/.exec(text)
  const idle = /key echo with no flood\s+median (\d+(?:\.\d+)?) ms/.exec(text)
  const lastOnScreen = /last message on screen after it arrived: .*visible in the pane (-?\d+) ms/.exec(text)
  const firstFrame = /first frame after the spawn\s+(\d+) ms/.exec(text)
  const samples = /^\s*samples: ([\d. ]+);/m.exec(text)
  if (!rate || !flooding) return undefined
  return {
    messages,
    renderedPerSec: Number(rate[1]),
    keyEchoP50Ms: Number(flooding[1]),
    keyEchoP90Ms: Number(flooding[2]),
    ...(samples ? { samples: samples[1]!.trim().split(/\s+/).map(Number) } : {}),
    ...(idle ? { idleKeyEchoP50Ms: Number(idle[1]) } : {}),
    ...(lastOnScreen ? { lastOnScreenMs: Number(lastOnScreen[1]) } : {}),
    ...(firstFrame ? { firstFrameMs: Number(firstFrame[1]) } : {}),
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? ''
}

function run(
  script: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  // flood.js keeps its files and its tmux server's socket in here: a flood.js killed at the timeout cannot
  // remove them, or stop that server, itself.
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-tui-'))
  const socket = join(dir, 'tmux')
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, ...env, TMPDIR: dir, FLOOD_TMUX_SOCKET: socket },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      spawnSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' })
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      rmSync(dir, { recursive: true, force: true })
      resolve({
        code: code ?? signal ?? 'unknown',
        stdout,
        stderr: stderr || `timed out after ${timeoutMs} ms`,
      })
    })
  })
}
