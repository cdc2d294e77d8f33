import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppendLog } from '../src/index.js'
import { LOG_HEADER, scanFrames } from '../src/log-format.js'
import { compileStore, fixture, seeded } from './compiled-store.js'

let store: Awaited<ReturnType<typeof compileStore>>
let dir: string

beforeAll(async () => {
  store = await compileStore()
  dir = await mkdtemp(join(tmpdir(), 'parley-store-crash-'))
})
afterAll(async () => {
  await store?.remove()
  await rm(dir, { recursive: true, force: true })
})

interface Run {
  /** Highest number the child printed, i.e. whose append had resolved. */
  acknowledged: number
  stderr: string
  signal: NodeJS.Signals | null
}

/** Runs the appending child until it has acknowledged `killAfter` numbers, then kill -9s it. */
function appendThenKill(
  path: string,
  seed: number,
  killAfter: number,
  extraMs: number,
  rewriteEvery = 0,
): Promise<Run> {
  const child: ChildProcess = spawn(process.execPath, [
    fixture('append-until-killed.mjs'),
    store.url,
    path,
    `${seed}`,
    ...(rewriteEvery > 0 ? [`${rewriteEvery}`] : []),
  ])
  let acknowledged = 0
  let previous: number | undefined
  let outOfOrder = ''
  let stdout = ''
  let stderr = ''
  let killing = false
  const kill = () => {
    if (!killing) child.kill('SIGKILL')
    killing = true
  }
  const deadline = setTimeout(kill, 10_000)
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    const lines = stdout.split('\n')
    stdout = lines.pop() ?? ''
    for (const line of lines) {
      const n = Number(line)
      if (previous !== undefined && n !== previous + 1) outOfOrder ||= `${n} after ${previous}`
      previous = n
      acknowledged = Math.max(acknowledged, n)
    }
    if (acknowledged >= killAfter && !killing) {
      killing = true
      setTimeout(() => child.kill('SIGKILL'), extraMs)
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (_code, signal) => {
      clearTimeout(deadline)
      if (outOfOrder) reject(new Error(`acknowledgements out of order: ${outOfOrder}`))
      resolve({ acknowledged, stderr, signal })
    })
  })
}

/** The offset just past the frame holding record number `n`. */
async function endOfRecord(path: string, n: number): Promise<number> {
  const bytes = await readFile(path)
  // Frames a rewrite wrote may be compressed: read them as the log does.
  let offset = LOG_HEADER.length
  let end: number | undefined
  scanFrames(bytes, offset, (records, frameBytes) => {
    offset += frameBytes
    if (end === undefined && records.some((record) => (record as { n: number }).n >= n)) end = offset
  })
  if (end === undefined) throw new Error(`record ${n} is not in ${path}`)
  return end
}

/** How many of the file's good frames are stored compressed, and how many plain. */
function frameFlags(bytes: Buffer): { compressed: number; plain: number } {
  const count = { compressed: 0, plain: 0 }
  let offset = LOG_HEADER.length
  scanFrames(bytes, offset, (_records, frameBytes, plainBytes) => {
    if (frameBytes < plainBytes) count.compressed++
    else count.plain++
    offset += frameBytes
  })
  return count
}

async function replay(path: string): Promise<{ numbers: number[]; warnings: string[] }> {
  const warnings: string[] = []
  const log = await AppendLog.open(path, { onWarning: (m) => warnings.push(m) })
  await log.close()
  return { numbers: log.records.map((record) => (record as { n: number }).n), warnings }
}

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** Kills the appending child twice on one log, and checks what it left after each kill and a power cut. */
async function keepsAcknowledged(seed: number, rewriteEvery: number): Promise<void> {
  const random = seeded(seed)
  const path = join(dir, `seed-${seed}.log`)
  let acknowledged = 0
  // Two kills on the same log: the second run starts from whatever the first left.
  for (let round = 0; round < 2; round++) {
    const run = await appendThenKill(
      path,
      seed * 10 + round,
      acknowledged + 200 + Math.floor(random() * 3000),
      Math.floor(random() * 20),
      rewriteEvery,
    )
    expect(run.signal, run.stderr).toBe('SIGKILL')
    expect(run.stderr).toBe('')
    acknowledged = run.acknowledged

    const killed = await replay(path)
    expect(killed.numbers.length).toBeGreaterThanOrEqual(acknowledged)
    // Appends are stored plain, and what a finished rewrite wrote compressed: the kill could tear either.
    const flags = frameFlags(await readFile(path))
    if (rewriteEvery === 0) expect(flags.compressed).toBe(0)
    expect(flags.plain).toBeGreaterThan(0)
    expect(killed.numbers).toEqual(oneToN(killed.numbers.length))
    // Linux may stop a multi-page write() at a page boundary when SIGKILL arrives: a torn tail is possible.
    expect(killed.warnings.length).toBeLessThanOrEqual(1)
    for (const warning of killed.warnings) expect(warning).toMatch(/dropped \d+ bytes at offset \d+/)

    // Power loss may also lose anything written after the last fdatasync: cut there, at any byte.
    const durable = await endOfRecord(path, acknowledged)
    const size = (await readFile(path)).length
    const cut = durable + Math.floor(random() * (size - durable + 1))
    await truncate(path, cut)
    const { numbers, warnings } = await replay(path)
    expect(numbers.length).toBeGreaterThanOrEqual(acknowledged)
    expect(numbers).toEqual(oneToN(numbers.length))
    expect(warnings.length).toBeLessThanOrEqual(1)
    for (const warning of warnings) expect(warning).toMatch(/dropped \d+ bytes at offset \d+/)
  }
}

describe('an append log written by a process killed with SIGKILL', () => {
  it.each([1, 2, 3, 4, 5])('keeps every acknowledged record, in order, without gaps (seed %i)', (seed) =>
    keepsAcknowledged(seed, 0),
  )
  it.each([
    [6, 40],
    [7, 15],
  ])(
    'keeps them too while the log is rewritten as appends go on (seed %i, every %i appends)',
    (seed, every) => keepsAcknowledged(seed, every),
  )
})

describe('an append log whose file cannot grow', () => {
  it('rejects the whole batch, takes back its partial write and refuses later appends', async (context) => {
    if (spawnSync('prlimit', ['--version']).error)
      context.skip('needs prlimit (util-linux) to cap the file size')
    const path = join(dir, 'full.log')
    const { stdout } = await promisify(execFile)('prlimit', [
      '--fsize=4096',
      process.execPath,
      fixture('append-past-size-limit.mjs'),
      store.url,
      path,
    ])
    const result = JSON.parse(stdout)
    expect(result.before).toBe('ok')
    expect(result.batch).toEqual([
      expect.stringMatching(
        `^LogError IO: cannot append to ${path} \\(EFBIG\\); reopen the log to continue$`,
      ),
      expect.stringMatching('^LogError IO'),
    ])
    expect(result.after).toMatch(/^LogError IO/)
    expect(result.sizeAfter).toBe(result.sizeBefore)
    expect((await stat(path)).size).toBe(result.sizeBefore)
    const reopened = await AppendLog.open(path)
    expect(reopened.records).toEqual(['before'])
    await reopened.append(['after reopening'])
    await reopened.close()
    const again = await AppendLog.open(path)
    expect(again.records).toEqual(['before', 'after reopening'])
    await again.close()
  })
})
