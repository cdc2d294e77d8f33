import { type ChildProcess, fork } from 'node:child_process'
import type { BenchCase, CaseKey } from './pair.js'
import { median, percentile } from './stats.js'
import type { VisitReply, VisitRequest } from './worker-protocol.js'

export interface CaseSettings {
  messages: number
  reps: number
  rtt: number
  window: number
}

export interface CaseResult {
  key: CaseKey
  label: string
  /** Medians over the measured repetitions; undefined when the case failed. */
  throughput?: number
  /**
   * CPU per message of the flood (µs, user + system, every thread of the case's process: both ends and
   * the thread pool). Times msg/s, the cores the case kept busy: whether it computes or waits.
   */
  cpuUsPerMsg?: number
  rttP50Us?: number
  rttP99Us?: number
  connectMs?: number
  /** Every measured repetition's figure, for the spread. */
  runs: { throughput: number; cpuUsPerMsg: number; connectMs: number; rttP50Us: number }[]
  error?: string
}

/**
 * Runs each group of cases (see `BenchCase.group`) in turn, so that no group's workers live beside another's
 * rounds; results come back in the order of `cases`.
 */
export async function runCases(
  cases: readonly BenchCase[],
  settings: CaseSettings,
  progress: (line: string) => void,
): Promise<CaseResult[]> {
  const groups = [...new Set(cases.map((c) => c.group ?? ''))]
  const results = new Map<CaseKey, CaseResult>()
  for (const group of groups) {
    const members = cases.filter((c) => (c.group ?? '') === group)
    for (const result of await runGroup(members, settings, progress)) results.set(result.key, result)
  }
  return cases.map((c) => results.get(c.key)!)
}

/**
 * Each case lives in a worker process of its own. Every worker first makes one unmeasured visit (warm-up),
 * then `reps` rounds visit every case in turn, one worker busy at a time, so that drift in the machine's
 * load spreads over all cases. A visit opens a fresh pair, floods it, ping-pongs it and closes it.
 */
async function runGroup(
  cases: readonly BenchCase[],
  settings: CaseSettings,
  progress: (line: string) => void,
): Promise<CaseResult[]> {
  const request: VisitRequest = {
    type: 'visit',
    messages: settings.messages,
    window: settings.window,
    rtt: settings.rtt,
  }
  const state = cases.map((bench) => ({
    bench,
    worker: new CaseWorker(bench.key),
    runs: [] as CaseResult['runs'],
    rtts: [] as number[],
    error: '',
  }))
  try {
    for (let round = 0; round <= settings.reps; round++) {
      for (const entry of state) {
        if (entry.error) continue
        const reply = await entry.worker.visit(request)
        if (reply.type !== 'run') {
          entry.error = reply.type === 'error' ? reply.message : 'the worker answered out of turn'
          progress(`  ${entry.bench.label} failed: ${entry.error}`)
          continue
        }
        if (round === 0) continue
        const rttP50Us = median(reply.rtts)
        entry.runs.push({
          throughput: reply.throughput,
          cpuUsPerMsg: reply.cpuUsPerMsg,
          connectMs: reply.connectMs,
          rttP50Us,
        })
        entry.rtts.push(...reply.rtts)
        progress(
          `  round ${round}/${settings.reps} ${entry.bench.label}: ${Math.round(reply.throughput).toLocaleString('en-US')} msg/s, ` +
            `CPU ${reply.cpuUsPerMsg.toFixed(1)} µs/msg, RTT p50 ${rttP50Us.toFixed(0)} µs, connect ${reply.connectMs.toFixed(1)} ms`,
        )
      }
      if (round === 0) progress('  warm-up round done')
    }
  } finally {
    for (const entry of state) entry.worker.stop()
  }
  return state.map(({ bench, runs, rtts, error }) => {
    const base = { key: bench.key, label: bench.label, runs }
    if (error || runs.length === 0) return { ...base, error: error || 'no measured run' }
    return {
      ...base,
      throughput: median(runs.map((r) => r.throughput)),
      cpuUsPerMsg: median(runs.map((r) => r.cpuUsPerMsg)),
      rttP50Us: percentile(rtts, 0.5),
      rttP99Us: percentile(rtts, 0.99),
      connectMs: median(runs.map((r) => r.connectMs)),
    }
  })
}

/** A case worker process; it inherits this process's flags (so `--cpu-prof` profiles every case). */
class CaseWorker {
  private readonly child: ChildProcess
  private pending: ((reply: VisitReply) => void) | undefined
  private readonly ready: Promise<VisitReply>
  private gone: string | undefined

  constructor(key: CaseKey) {
    this.child = fork(new URL('./case-worker.js', import.meta.url), [key], {
      execArgv: [...new Set([...process.execArgv, '--expose-gc'])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.ready = new Promise((resolve) => {
      this.pending = resolve
    })
    this.child.on('message', (reply: VisitReply) => this.settle(reply))
    this.child.on('exit', (code, signal) => {
      this.gone = `the ${key} worker exited (${signal ?? code})`
      this.settle({ type: 'error', message: this.gone })
    })
  }

  async visit(request: VisitRequest): Promise<VisitReply> {
    const ready = await this.ready
    if (ready.type === 'error') return ready
    if (this.gone) return { type: 'error', message: this.gone }
    const reply = new Promise<VisitReply>((resolve) => {
      this.pending = resolve
    })
    this.child.send(request)
    return reply
  }

  /** Ends the worker: closing the channel makes it exit; a worker stuck in a visit is killed. */
  stop(): void {
    if (this.child.connected) this.child.disconnect()
    setTimeout(() => this.child.kill('SIGKILL'), 2_000).unref()
  }

  private settle(reply: VisitReply): void {
    const pending = this.pending
    this.pending = undefined
    pending?.(reply)
  }
}
