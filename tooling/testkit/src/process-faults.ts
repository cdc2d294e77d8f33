/**
 * Helpers for fault tests with real `parley` processes: a seeded random source, a process that can be
 * killed and restarted on the same arguments, paced stdin feeding, `--json` event reading, and a
 * report of what a receiver showed against what was sent.
 */
import { spawnSync } from 'node:child_process'
import type { Proc } from './parley-process.js'

/**
 * Whether `strace` can trace a child here and inject faults into its system calls (installed, and ptrace
 * permitted): what the tests that kill or stall a process at one chosen system call need.
 */
export function straceWorks(): boolean {
  const args = ['-f', '-qq', '-o', '/dev/null', '-e', 'inject=write:delay_exit=1', 'true']
  const probe = spawnSync('strace', args, { timeout: 30_000 })
  return probe.status === 0
}

/** A deterministic source of numbers in [0, 1) (mulberry32), so a failing seed can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` distinct integers in [low, high), ascending, drawn from `random`. */
export function pickSorted(random: () => number, count: number, low: number, high: number): number[] {
  const picked = new Set<number>()
  for (let tries = 0; picked.size < count && tries < count * 100; tries++) {
    picked.add(low + Math.floor(random() * (high - low)))
  }
  return [...picked].sort((a, b) => a - b)
}

export interface JsonEvent {
  readonly type: string
  readonly [field: string]: unknown
}

const parsed = new WeakMap<Proc, JsonEvent[]>()

/** The `--json` events a process printed so far, parsed once each; `type` filters them. */
export function jsonEvents(proc: Proc, type?: string): JsonEvent[] {
  let events = parsed.get(proc)
  if (!events) {
    events = []
    parsed.set(proc, events)
  }
  for (let i = events.length; i < proc.stdout.length; i++) {
    const line = proc.stdout[i]!
    try {
      events.push(JSON.parse(line) as JsonEvent)
    } catch {
      events.push({ type: 'not-json', line })
    }
  }
  return type === undefined ? events : events.filter((e) => e.type === type)
}

/** The bodies of a process's `message` (or `sent`, `history`) events, in the order it printed them. */
export function bodiesOf(proc: Proc, type: 'message' | 'sent' | 'history' = 'message'): string[] {
  return jsonEvents(proc, type).map((e) => String(e.body))
}

/** Resolves once `condition()` holds, polling every few ms; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(2)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Whether the process has not exited yet. */
export function alive(proc: Proc): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null
}

/** Resolves once the process exited and everything it wrote to stdout and stderr has been read. */
export async function finished(proc: Proc): Promise<void> {
  await proc.exited
  await Promise.all(
    [proc.child.stdout, proc.child.stderr].map((stream) =>
      stream.closed ? undefined : new Promise((resolve) => stream.once('close', resolve)),
    ),
  )
}

/** Kills the process with SIGKILL (no bye, no flush) and waits until its output is read. */
export async function crash(proc: Proc): Promise<void> {
  proc.kill('SIGKILL')
  await finished(proc)
}

/**
 * Writes `lines` to the process's stdin, `batch` lines at a time with `pauseMs` between batches, so a
 * fault can land while input is still arriving. Stops early once the process has exited. `progress`
 * is updated after every batch, so a test can act at a given point of the feed.
 * @returns how many lines were written
 */
export async function feedLines(
  proc: Proc,
  lines: readonly string[],
  {
    batch = 50,
    pauseMs = 5,
    end = false,
    progress,
  }: { batch?: number; pauseMs?: number; end?: boolean; progress?: { written: number } } = {},
): Promise<number> {
  let written = 0
  while (written < lines.length && alive(proc)) {
    const chunk = lines.slice(written, written + batch)
    proc.child.stdin.write(`${chunk.join('\n')}\n`)
    written += chunk.length
    if (progress) progress.written = written
    await sleep(pauseMs)
  }
  if (end && alive(proc)) proc.end()
  return written
}

/**
 * A `parley` that the test kills and starts again on the same arguments (same --data-dir, same
 * --listen port); it keeps every incarnation so their output can be read together.
 */
export class Restartable {
  readonly lives: Proc[] = []
  readonly #spawn: (args: string[]) => Proc
  readonly #args: readonly string[]

  constructor(args: readonly string[], spawn: (args: string[]) => Proc) {
    this.#args = args
    this.#spawn = spawn
  }

  get current(): Proc {
    const proc = this.lives.at(-1)
    if (!proc) throw new Error('not started')
    return proc
  }

  start(extraArgs: readonly string[] = []): Proc {
    const proc = this.#spawn([...this.#args, ...extraArgs])
    this.lives.push(proc)
    return proc
  }

  /** Every `type` event of every incarnation, in order. */
  events(type: string): JsonEvent[] {
    return this.lives.flatMap((proc) => jsonEvents(proc, type))
  }

  bodies(type: 'message' | 'sent' = 'message'): string[] {
    return this.lives.flatMap((proc) => bodiesOf(proc, type))
  }
}

export interface DeliveryReport {
  /** Sent bodies never shown (the first 20). */
  readonly missing: string[]
  /** Bodies shown more than once (the first 20). */
  readonly duplicated: string[]
  /** Bodies shown that were never sent (the first 20). */
  readonly unexpected: string[]
  /** How many times a shown body came before one shown earlier in the sent order. */
  readonly outOfOrder: number
}

/** Compares what receivers showed with what was sent: a clean run is all empty and 0. */
export function deliveryReport(sent: readonly string[], shown: readonly string[]): DeliveryReport {
  const position = new Map(sent.map((body, i) => [body, i]))
  const seen = new Map<string, number>()
  const unexpected: string[] = []
  let outOfOrder = 0
  let last = -1
  for (const body of shown) {
    seen.set(body, (seen.get(body) ?? 0) + 1)
    const at = position.get(body)
    if (at === undefined) {
      unexpected.push(body)
      continue
    }
    if (at < last) outOfOrder++
    last = Math.max(last, at)
  }
  return {
    missing: sent.filter((body) => !seen.has(body)).slice(0, 20),
    duplicated: [...seen]
      .filter(([, n]) => n > 1)
      .map(([body]) => body)
      .slice(0, 20),
    unexpected: unexpected.slice(0, 20),
    outOfOrder,
  }
}

export const CLEAN_DELIVERY: DeliveryReport = { missing: [], duplicated: [], unexpected: [], outOfOrder: 0 }
