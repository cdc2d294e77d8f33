/**
 * One piped file from a spawned sender to a spawned receiver over loopback, timed from the sender's spawn
 * to the receiver having printed the last line. Every child started here is killed when the bench exits,
 * also after a failure, and every temp dir is removed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LoopFile } from './loop-delay.js'
import { parleyBin } from './parley-bin.js'

const LIVE = new Set<ChildProcess>()
const TEMP_DIRS = new Set<string>()
process.on('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL')
  for (const dir of TEMP_DIRS) rmSync(dir, { recursive: true, force: true })
})
// A signal would end the bench without its exit handlers: exit instead, so the children and dirs go too.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => process.exit(code))

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  TEMP_DIRS.add(dir)
  return dir
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  TEMP_DIRS.delete(dir)
}

export interface InputFile {
  path: string
  lines: number
  bytes: number
  /** Bytes of text without the newlines: what the messages carry. */
  textBytes: number
}

/** `lines` lines of 59 characters and a newline, each numbered, so that any line lost or doubled shows. */
export function writeInput(dir: string, lines: number): InputFile {
  const parts: string[] = []
  const next = seeded(lines)
  for (let i = 0; i < lines; i++) {
    let line = `${i + 1}`
    while (line.length < 59) line += ` ${WORDS[next() % WORDS.length]}`
    parts.push(line.slice(0, 59))
  }
  const text = `${parts.join('\n')}\n`
  const path = join(dir, `lines-${lines}.txt`)
  writeFileSync(path, text)
  const bytes = Buffer.byteLength(text)
  return { path, lines, bytes, textBytes: bytes - lines }
}

/**
 * Common English words the input lines are drawn from at random, so that what a journal stores compressed
 * is measured on text that varies from line to line as chat does, not on one line repeated.
 */
const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by ' +
  'word but not what all were we when your can said there use an each which she do how their if will up ' +
  'other about out many then them these so some her would make like him into time has look two more write ' +
  'go see number no way could people my than first water been call who oil its now find long down day did ' +
  'get come made may part over new sound take only little work know place year live me back give most very ' +
  'after thing our just name good sentence man think say great where help through much before line right ' +
  'too mean old any same tell boy follow came want show also around form three small set put end does ' +
  'another well large must big even such because turn here why ask went men read need land different home ' +
  'us move try kind hand picture again change off play spell air away animal house point page letter ' +
  'mother answer found study still learn should world high every near add food between own below country'
).split(' ')

/** A fixed sequence of pseudo-random numbers (xorshift32): the same input for the same line count. */
function seeded(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

/** How to start the two ends of one row, and how the receiver says which port it got. */
export interface PipeEnds {
  key: string
  label: string
  receiver(dataDir: string): string[]
  sender(port: number, dataDir: string): string[]
  /** Matches the receiver's stderr line that names its port (group 1). */
  listening: RegExp
  /** Exit codes of the sender that mean "all delivered". */
  okExit: readonly number[]
  /** Has a data dir worth measuring (journal). */
  journal: boolean
}

const PIPE_END = fileURLToPath(new URL('./pipe-end.js', import.meta.url))
const NODE = process.execPath

export function netcatInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v nc'], { stdio: 'ignore' }).status === 0
}

export const NETCAT_ENDS: PipeEnds = {
  key: 'netcat',
  label: 'netcat (nc)',
  receiver: () => ['nc', '-v', '-n', '-l', '127.0.0.1', '0'],
  sender: (port) => ['nc', '-N', '127.0.0.1', String(port)],
  listening: /Listening on \S+ (\d+)/,
  okExit: [0],
  journal: false,
}

export const NODE_PIPE_ENDS: PipeEnds = {
  key: 'node',
  label: 'bare Node.js socket pipe',
  receiver: () => [NODE, PIPE_END, 'receive'],
  sender: (port) => [NODE, PIPE_END, 'send', String(port)],
  listening: /listening on 127\.0\.0\.1:(\d+)/,
  okExit: [0],
  journal: false,
}

/** The Node.js pipe through the Noise stack of every secure link: what that stack alone costs piped. */
export const NOISE_PIPE_ENDS: PipeEnds = {
  key: 'noise',
  label: 'Node.js pipe through secret-stream',
  receiver: () => [NODE, PIPE_END, 'receive-noise'],
  sender: (port) => [NODE, PIPE_END, 'send-noise', String(port)],
  listening: /listening on 127\.0\.0\.1:(\d+)/,
  okExit: [0],
  journal: false,
}

function parleyEnds(plain: boolean): PipeEnds {
  const bin = parleyBin()
  const mode = plain ? ['--plain'] : []
  return {
    key: plain ? 'parleyPlain' : 'parley',
    label: plain ? 'parley --plain' : 'parley (secure, journals)',
    receiver: (dir) => [
      NODE,
      bin,
      ...mode,
      '--recv-only',
      '--listen',
      '127.0.0.1:0',
      '--rate',
      '0',
      '--name',
      'recv',
      '--data-dir',
      dir,
    ],
    sender: (port, dir) => [
      NODE,
      bin,
      ...mode,
      '--peer',
      `127.0.0.1:${port}`,
      '--listen',
      '127.0.0.1:0',
      '--name',
      'send',
      '--data-dir',
      dir,
    ],
    listening: /listening on 127\.0\.0\.1:(\d+)/,
    okExit: [0],
    journal: !plain,
  }
}

export const PARLEY_ENDS = (): PipeEnds => parleyEnds(false)
export const PARLEY_PLAIN_ENDS = (): PipeEnds => parleyEnds(true)

/**
 * `parley --plain` at one end and the bare Node.js pipe's end at the other: --plain speaks plain lines, so
 * either end can be measured alone. The whole --plain pipe is at least as slow as the slower end.
 */
export const PLAIN_SENDER_ALONE_ENDS = (): PipeEnds => ({
  ...NODE_PIPE_ENDS,
  key: 'parleyPlainSender',
  label: 'parley --plain sending, node receiving',
  sender: parleyEnds(true).sender,
})
export const PLAIN_RECEIVER_ALONE_ENDS = (): PipeEnds => ({
  ...parleyEnds(true),
  key: 'parleyPlainReceiver',
  label: 'node sending, parley --plain receiving',
  sender: NODE_PIPE_ENDS.sender,
})

export interface PipeOptions {
  /** Line counts at which to note the time (and RSS, with `sampleRss`); the last one is always noted. */
  marks?: readonly number[]
  sampleRss?: boolean
  /** No new line at the receiver for this long fails the run. */
  stallMs: number
  /** The whole run may take at most this long. */
  ceilingMs: number
  /** Keep the data dirs (the caller measures and removes them). */
  keepDirs?: boolean
  /** Sample both ends' event-loop delay (see loop-delay.ts); `node` ends only. */
  loopDelay?: boolean
  /** With `loopDelay`: force a full collection in both ends every half second and note what survives. */
  liveHeap?: boolean
  /** Added to both ends' environment. */
  env?: NodeJS.ProcessEnv
}

/** The longest event-loop delay of each half second of a spawned end's run, after it was listening. */
export interface LoopDelay {
  maxMs: number
  /** Half seconds whose longest delay passed 50 ms. */
  over50ms: number
  /** With `liveHeap`: the old generation's bytes after each forced full collection of the run, in order. */
  afterFullGcBytes: number[]
}

export interface Mark {
  lines: number
  ms: number
  senderRssKiB?: number
  receiverRssKiB?: number
}

export interface PipeRun {
  /** From the sender's spawn to the receiver's last line. */
  ms: number
  marks: Mark[]
  senderPeakKiB?: number
  receiverPeakKiB?: number
  senderDir: string
  receiverDir: string
  senderLoop?: LoopDelay
  receiverLoop?: LoopDelay
}

const LOOP_DELAY = fileURLToPath(new URL('./loop-delay.js', import.meta.url))

function withLoopDelay(argv: string[], file: string | undefined, liveHeap = false): string[] {
  if (file === undefined || argv[0] !== NODE) return argv
  return [NODE, ...(liveHeap ? ['--expose-gc'] : []), '--import', LOOP_DELAY, ...argv.slice(1)]
}

function readLoopDelay(file: string | undefined, after: number): LoopDelay | undefined {
  if (file === undefined) return undefined
  try {
    const { windows, afterFullGc } = JSON.parse(readFileSync(file, 'utf8')) as LoopFile
    // A window that ended after `after` (the receiver listening) may still hold start-up: skip the first.
    const run = windows.filter((w) => w.at > after + 500)
    return {
      maxMs: Math.max(0, ...run.map((w) => w.maxMs)),
      over50ms: run.filter((w) => w.maxMs > 50).length,
      afterFullGcBytes: afterFullGc.filter((gc) => gc.at > after).map((gc) => gc.bytes),
    }
  } catch {
    return undefined
  }
}

/** VmRSS and VmHWM (peak) of a live process, in KiB; undefined once it is gone. */
export function memoryOf(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    const peak = /VmHWM:\s+(\d+) kB/.exec(status)
    if (!rss || !peak) return undefined
    return { rss: Number(rss[1]), peak: Number(peak[1]) }
  } catch {
    return undefined
  }
}

export class Child {
  readonly process: ChildProcess
  stderr = ''
  /** Resolves when the process exits; its stdout may still hold output not yet read. */
  readonly exited: Promise<number | string>
  /**
   * Resolves once the process has exited and its stdout and stderr have been read to their end. Only for a
   * child whose stdout is read: a pipe nobody reads never ends.
   */
  readonly finished: Promise<number | string>

  constructor(argv: string[], stdin: number | 'ignore', env?: NodeJS.ProcessEnv) {
    const [command, ...args] = argv
    this.process = spawn(command!, args, { stdio: [stdin, 'pipe', 'pipe'], ...(env ? { env } : {}) })
    LIVE.add(this.process)
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < 64_000) this.stderr += chunk
    })
    this.exited = new Promise((resolve) => {
      this.process.on('error', (error) => {
        this.stderr += error.message
        LIVE.delete(this.process)
        resolve('spawn failed')
      })
      this.process.on('exit', (code, signal) => {
        LIVE.delete(this.process)
        resolve(code ?? signal ?? 'unknown')
      })
    })
    this.finished = new Promise((resolve) => {
      this.process.on('error', () => resolve('spawn failed'))
      this.process.on('close', (code, signal) => resolve(code ?? signal ?? 'unknown'))
    })
  }

  /** SIGTERM (parley exits cleanly on it), SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return
    this.process.kill('SIGTERM')
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  lastLine(): string {
    return this.stderr.trim().split('\n').at(-1) ?? ''
  }
}

export class PipeError extends Error {
  override name = 'PipeError'
}

/** Starts the receiver and resolves with its port once it says it listens. */
function waitListening(child: Child, pattern: RegExp, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PipeError(`the receiver did not listen within ${timeoutMs} ms`)),
      timeoutMs,
    )
    const check = () => {
      const match = pattern.exec(child.stderr)
      if (!match) return
      clearTimeout(timer)
      child.process.stderr!.off('data', check)
      resolve(Number(match[1]))
    }
    child.process.stderr!.on('data', check)
    child.exited.then((code) => {
      clearTimeout(timer)
      reject(new PipeError(`the receiver exited (${code}) before listening: ${child.lastLine()}`))
    })
  })
}

/**
 * Pipes `input` from a fresh sender to a fresh receiver (each with its own temp data dir) and counts the
 * receiver's stdout lines. Fails when a line is missing or extra, or the sender does not exit with success.
 */
export async function pipeOnce(ends: PipeEnds, input: InputFile, options: PipeOptions): Promise<PipeRun> {
  const senderDir = tempDir('parley-bench-send-')
  const receiverDir = tempDir('parley-bench-recv-')
  const loopDir = options.loopDelay ? tempDir('parley-bench-loop-') : undefined
  const senderLoopFile = loopDir && join(loopDir, 'sender.json')
  const receiverLoopFile = loopDir && join(loopDir, 'receiver.json')
  const liveHeap = options.liveHeap === true && loopDir !== undefined
  const envOf = (file: string | undefined) =>
    file || options.env
      ? {
          ...process.env,
          ...options.env,
          PARLEY_BENCH_LOOP_FILE: file ?? '',
          ...(liveHeap ? { PARLEY_BENCH_LIVE_HEAP: '1' } : {}),
        }
      : undefined
  const receiver = new Child(
    withLoopDelay(ends.receiver(receiverDir), receiverLoopFile, liveHeap),
    'ignore',
    envOf(receiverLoopFile),
  )
  let sender: Child | undefined
  let sampler: NodeJS.Timeout | undefined
  const inputFd = openSync(input.path, 'r')
  try {
    const port = await waitListening(receiver, ends.listening, 30_000)
    const listeningAt = Date.now()
    const marks = [...(options.marks ?? []), input.lines]
      .filter((n, i, all) => n <= input.lines && all.indexOf(n) === i)
      .sort((a, b) => a - b)
    const noted: Mark[] = []
    let senderPeak = 0
    let receiverPeak = 0
    const start = performance.now()
    sender = new Child(
      withLoopDelay(ends.sender(port, senderDir), senderLoopFile, liveHeap),
      inputFd,
      envOf(senderLoopFile),
    )
    const senderPid = sender.process.pid
    const receiverPid = receiver.process.pid
    if (options.sampleRss) {
      sampler = setInterval(() => {
        senderPeak = Math.max(senderPeak, memoryOf(senderPid)?.peak ?? 0)
        receiverPeak = Math.max(receiverPeak, memoryOf(receiverPid)?.peak ?? 0)
      }, 250)
    }
    const stdout = receiver.process.stdout!
    let lines = 0
    const done = new Promise<number>((resolve, reject) => {
      let moved = true
      const stall = setInterval(() => {
        if (!moved) fail(`no line arrived for ${options.stallMs} ms (${lines} of ${input.lines})`)
        moved = false
      }, options.stallMs)
      const ceiling = setTimeout(
        () => fail(`not done after ${options.ceilingMs} ms (${lines} of ${input.lines} lines)`),
        options.ceilingMs,
      )
      const finish = () => {
        clearInterval(stall)
        clearTimeout(ceiling)
        stdout.off('data', onData)
      }
      const fail = (reason: string) => {
        finish()
        reject(new PipeError(`${reason}; sender: ${sender?.lastLine() ?? ''}`))
      }
      const onData = (chunk: Buffer) => {
        moved = true
        let at = chunk.indexOf(10)
        while (at !== -1) {
          lines++
          if (lines === marks[noted.length]) {
            const now = performance.now()
            const s = options.sampleRss ? memoryOf(senderPid) : undefined
            const r = options.sampleRss ? memoryOf(receiverPid) : undefined
            if (s) senderPeak = Math.max(senderPeak, s.peak)
            if (r) receiverPeak = Math.max(receiverPeak, r.peak)
            noted.push({
              lines,
              ms: now - start,
              ...(s ? { senderRssKiB: s.rss } : {}),
              ...(r ? { receiverRssKiB: r.rss } : {}),
            })
            if (lines === input.lines) {
              finish()
              resolve(now - start)
              // Count on, so that a line delivered twice is noticed below.
              stdout.on('data', (more: Buffer) => {
                for (let i = more.indexOf(10); i !== -1; i = more.indexOf(10, i + 1)) lines++
              })
              return
            }
          }
          at = chunk.indexOf(10, at + 1)
        }
      }
      stdout.on('data', onData)
      // Not on 'exit': a receiver that printed every line and exited may still have lines in the pipe.
      receiver.finished.then((code) =>
        fail(`the receiver exited (${code}) after ${lines} of ${input.lines} lines: ${receiver.lastLine()}`),
      )
    })
    const ms = await done
    const exit = await Promise.race([
      sender.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), options.stallMs)),
    ])
    if (!ends.okExit.includes(exit as number))
      throw new PipeError(`the sender exited with ${exit} after the last line: ${sender.lastLine()}`)
    if (options.sampleRss) receiverPeak = Math.max(receiverPeak, memoryOf(receiverPid)?.peak ?? 0)
    await receiver.stop()
    if (lines !== input.lines)
      throw new PipeError(`the receiver printed ${lines} lines for ${input.lines} sent`)
    const senderLoop = readLoopDelay(senderLoopFile, listeningAt)
    const receiverLoop = readLoopDelay(receiverLoopFile, listeningAt)
    return {
      ...(senderLoop ? { senderLoop } : {}),
      ...(receiverLoop ? { receiverLoop } : {}),
      ms,
      marks: noted,
      ...(options.sampleRss ? { senderPeakKiB: senderPeak, receiverPeakKiB: receiverPeak } : {}),
      senderDir,
      receiverDir,
    }
  } finally {
    clearInterval(sampler)
    closeSync(inputFd)
    await sender?.stop(1_000)
    await receiver.stop(1_000)
    if (loopDir) removeDir(loopDir)
    if (!options.keepDirs) {
      removeDir(senderDir)
      removeDir(receiverDir)
    }
  }
}

/** Sum of the sizes of the files directly in `dir`, and the size of one of them. */
export function dirBytes(dir: string, file: string): { total: number; file: number } {
  let total = 0
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size
  let one = 0
  try {
    one = statSync(join(dir, file)).size
  } catch {}
  return { total, file: one }
}

/**
 * Spawns a parley receiver on `dataDir` and times it from spawn to its `listening` line (it opens,
 * compacts and replays the journal before it listens), then stops it.
 */
export async function timeStartup(dataDir: string, timeoutMs: number): Promise<number> {
  const ends = PARLEY_ENDS()
  const start = performance.now()
  const child = new Child(ends.receiver(dataDir), 'ignore')
  try {
    await waitListening(child, ends.listening, timeoutMs)
    return performance.now() - start
  } finally {
    await child.stop()
  }
}
