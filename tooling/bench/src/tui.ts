import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface TuiResult {
  messages: number
  renderedPerSec: number
  keyEchoP50Ms: number
  keyEchoP90Ms: number
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
 * Runs the blessed-ui flood bench with `messages` messages and reads its figures from its report. parley-tui
 * runs with `--rate 0`, like every parley case here: the default per-peer limit (200 msg/s after a burst of
 * 1,000) would make rendered/s a measure of that policy, not of the renderer.
 */
export async function measureTui(messages: number, timeoutMs: number): Promise<TuiOutcome> {
  if (!existsSync(FLOOD)) return { status: 'skipped', reason: 'apps/blessed-ui/bench/flood.js is missing' }
  const missing = BUILT.find((file) => !existsSync(file))
  if (missing) return { status: 'skipped', reason: `not built (${missing}); run pnpm build` }
  if (spawnSync('sh', ['-c', 'command -v tmux']).status !== 0)
    return { status: 'skipped', reason: 'tmux is not installed' }
  const { code, stdout, stderr } = await run(
    FLOOD,
    { FLOOD_MESSAGES: String(messages), FLOOD_RATE: '0' },
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
  return { status: 'measured', result }
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
  if (!rate || !flooding) return undefined
  return {
    messages,
    renderedPerSec: Number(rate[1]),
    keyEchoP50Ms: Number(flooding[1]),
    keyEchoP90Ms: Number(flooding[2]),
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
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, ...env },
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
      // flood.js names its tmux server after its pid; a killed flood.js cannot stop it itself.
      spawnSync('tmux', ['-L', `parley-bench-${child.pid}`, 'kill-server'], { stdio: 'ignore' })
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code: code ?? signal ?? 'unknown',
        stdout,
        stderr: stderr || `timed out after ${timeoutMs} ms`,
      })
    })
  })
}
