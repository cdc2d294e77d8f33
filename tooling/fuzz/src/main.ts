#!/usr/bin/env node
/**
 * pnpm fuzz [--frames N] [--seed S] [--minutes M] [--heap-growth MB] [--json]: hostile frames through a
 * live parley node (see harness.ts). Exits 0 when every failure was a coded parley error, 1 with the seed
 * and the frame on anything else, 2 on bad usage.
 */
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { FAULTS, type FaultName, type FuzzFailure, type FuzzReport, showFrame } from './harness.js'
import { SHARED_HEADER, type WorkerInput } from './shared.js'

const USAGE = `pnpm fuzz [--frames N] [--seed S] [--minutes M] [--heap-growth MB] [--json]
  --frames N        hostile frames to send (default 1000000)
  --seed S          the run's seed, a whole number (default: random, printed)
  --minutes M       stop sending after M minutes, whatever the count (default 20)
  --heap-growth MB  heap growth allowed from the end of the warm-up to the end (default 64)
  --json            print the report as one JSON object
  --fault NAME      install a known fault in the node, to see the fuzzer catch it (${Object.keys(FAULTS).join(', ')})`

/** The worker's heap ceiling: growth past it kills the worker, which the main thread reports. */
const WORKER_HEAP_MB = 1024
const FRAME_COPY_BYTES = 128 * 1024

function usageError(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`)
  process.exit(2)
}

function whole(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback
  if (!/^\d{1,10}$/.test(text) || Number(text) < min)
    usageError(`${flag} takes a whole number of at least ${min}, got "${text}"`)
  return Number(text)
}

let values: ReturnType<typeof parse>['values']
function parse() {
  return parseArgs({
    options: {
      frames: { type: 'string' },
      seed: { type: 'string' },
      minutes: { type: 'string' },
      'heap-growth': { type: 'string' },
      json: { type: 'boolean' },
      fault: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
}
try {
  values = parse().values
} catch (error) {
  usageError((error as Error).message)
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const frames = whole('--frames', values.frames, 1_000_000, 1)
const seed = whole('--seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0) >>> 0
const minutes = whole('--minutes', values.minutes, 20, 1)
const heapGrowthMb = whole('--heap-growth', values['heap-growth'], 64, 1)
const fault = values.fault
if (fault !== undefined && !Object.hasOwn(FAULTS, fault))
  usageError(`--fault takes one of ${Object.keys(FAULTS).join(', ')}`)

const shared = new SharedArrayBuffer(SHARED_HEADER + FRAME_COPY_BYTES)
const input: WorkerInput = {
  options: {
    frames,
    seed,
    deadlineMs: minutes * 60_000,
    heapGrowthMb,
    ...(fault ? { fault: fault as FaultName } : {}),
  },
  shared,
}
if (!values.json) process.stdout.write(`fuzz: ${frames.toLocaleString('en-US')} frames, seed ${seed}\n`)
const worker = new Worker(new URL('./worker.js', import.meta.url), {
  workerData: input,
  resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
})

const report = await new Promise<FuzzReport>((resolve) => {
  let done = false
  const crashed = (why: string) => {
    if (done) return
    done = true
    resolve(crashReport(why))
  }
  worker.once('message', (message: FuzzReport) => {
    done = true
    resolve(message)
  })
  worker.once('error', (error) => crashed(`${error.name}: ${error.message}`))
  worker.once('exit', (code) => crashed(`the worker exited with code ${code} before reporting`))
})
await worker.terminate()
print(report)
process.exit(report.failure ? 1 : 0)

function crashReport(why: string): FuzzReport {
  const header = new Int32Array(shared, 0, 2)
  const index = header[0] ?? 0
  const length = header[1] ?? 0
  const bytes = new Uint8Array(shared, SHARED_HEADER, Math.min(length, FRAME_COPY_BYTES))
  const failure: FuzzFailure = {
    kind: 'crash',
    seed,
    index,
    label: 'the last frame the worker started on',
    frame: showFrame(bytes),
    error: why,
  }
  return {
    seed,
    frames: index,
    links: 0,
    ms: 0,
    framesPerSecond: 0,
    codes: {},
    closers: {},
    typedThrows: 0,
    shown: 0,
    heapMb: { warm: 0, end: 0 },
    stoppedByDeadline: false,
    failure,
  }
}

function print(report: FuzzReport): void {
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`)
    return
  }
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([key, count]) => `${key} ${n(count)}`)
      .join(', ')
  const codes = list(report.codes)
  process.stdout.write(
    [
      `frames      ${n(report.frames)} in ${(report.ms / 1000).toFixed(1)} s: ${n(report.framesPerSecond)} frames/s${report.stoppedByDeadline ? ' (stopped by --minutes)' : ''}`,
      `links       ${n(report.links)} opened; closed by the node with: ${codes || 'none'}`,
      `            after: ${list(report.closers) || 'none'}`,
      `shown       ${n(report.shown)} messages; coded errors thrown: ${n(report.typedThrows)}`,
      `heap        ${report.heapMb.warm.toFixed(1)} MiB after the warm-up, ${report.heapMb.end.toFixed(1)} MiB at the end`,
    ].join('\n') + '\n',
  )
  const f = report.failure
  if (!f) {
    process.stdout.write('ok: no untyped failure\n')
    return
  }
  process.stdout.write(
    `FAILED: ${f.kind} at frame ${f.index} (${f.label}); rerun with --seed ${f.seed} --frames ${f.index}\n` +
      `frame: ${f.frame}\nerror: ${f.error}\n`,
  )
}
