/**
 * Cost as the work grows (issue 18's "1M lines" case): the piped-lines case through secure parley with
 * journals at 100k, 300k and 1M lines, with throughput per 100k block, RSS as the run grows, journal bytes
 * on disk and the start-up of a node on the data dir the longest run left. Minutes long, so it runs only
 * when asked for (`--only lines-1m`).
 */
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { brotliDecompressSync } from 'node:zlib'
import {
  dirBytes,
  type LoopDelay,
  type Mark,
  PARLEY_ENDS,
  PipeError,
  pipeOnce,
  removeDir,
  tempDir,
  timeStartup,
  writeInput,
} from './pipe-run.js'
import { table } from './piped.js'
import { median, round } from './stats.js'

export interface GrowthSettings {
  /** Line counts of the runs, ascending; the smallest is also the block size. */
  sizes: readonly number[]
  /** The whole section stops (and reports what it has) after this long. */
  ceilingMs: number
  /** Force full collections in both ends and note the old generation after each (see loop-delay.ts). */
  liveHeap?: boolean
}

export interface GrowthRun {
  lines: number
  seconds: number
  linesPerSec: number
  senderPeakKiB: number
  receiverPeakKiB: number
  marks: Mark[]
  /** Bytes of journal.log and of the whole data dir, at the end of the run (before any restart). */
  journal: { sender: number; receiver: number; senderDir: number; receiverDir: number }
  /** The messages each journal.log holds at the end of the run (what compaction kept), and their text. */
  kept: { sender: KeptMessages; receiver: KeptMessages }
  textBytes: number
  /** Journal compactions each end did while it ran (its parley.log says so). */
  compactions: { sender: number; receiver: number }
  /** Longest event-loop delay of each end once the receiver listened (compactions included). */
  loop: { sender?: LoopDelay; receiver?: LoopDelay }
}

export interface StartupFigures {
  /** A node on the receiver's data dir of the longest run (the first start on it). */
  receiverFirstMs: number
  receiverSecondMs: number
  senderFirstMs: number
  /** A node on a fresh data dir, for comparison. */
  freshMs: number
  /** journal.log of the receiver's dir after the first start (a long journal is written compacted as it starts). */
  receiverJournalAfter: number
}

export interface GrowthResult {
  sizes: readonly number[]
  block: number
  runs: GrowthRun[]
  startup?: StartupFigures | { error: string }
  error?: string
}

export const DEFAULT_SIZES = [100_000, 300_000, 1_000_000] as const

export async function measureGrowth(
  settings: GrowthSettings,
  progress: (line: string) => void,
): Promise<GrowthResult> {
  const deadline = performance.now() + settings.ceilingMs
  const sizes = [...settings.sizes].sort((a, b) => a - b)
  const block = sizes[0]!
  const result: GrowthResult = { sizes, block, runs: [] }
  const inputDir = tempDir('parley-bench-1m-')
  try {
    for (const lines of sizes) {
      const left = deadline - performance.now()
      if (left <= 0) throw new PipeError(`out of time before the ${lines}-line run`)
      const input = writeInput(inputDir, lines)
      progress(`  lines-1m: ${lines.toLocaleString('en-US')} lines through parley (secure, journals)`)
      const marks: number[] = []
      for (let n = block; n < lines; n += block) marks.push(n)
      const run = await pipeOnce(PARLEY_ENDS(), input, {
        marks,
        sampleRss: true,
        stallMs: 60_000,
        ceilingMs: left,
        keepDirs: true,
        loopDelay: true,
        liveHeap: settings.liveHeap === true,
      })
      rmSync(input.path, { force: true })
      try {
        const sender = dirBytes(run.senderDir, 'journal.log')
        const receiver = dirBytes(run.receiverDir, 'journal.log')
        const seconds = run.ms / 1000
        result.runs.push({
          lines,
          seconds,
          linesPerSec: lines / seconds,
          senderPeakKiB: run.senderPeakKiB ?? 0,
          receiverPeakKiB: run.receiverPeakKiB ?? 0,
          marks: run.marks,
          journal: {
            sender: sender.file,
            receiver: receiver.file,
            senderDir: sender.total,
            receiverDir: receiver.total,
          },
          kept: {
            sender: keptMessages(join(run.senderDir, 'journal.log')),
            receiver: keptMessages(join(run.receiverDir, 'journal.log')),
          },
          textBytes: input.textBytes,
          compactions: { sender: compactionsIn(run.senderDir), receiver: compactionsIn(run.receiverDir) },
          loop: {
            ...(run.senderLoop ? { sender: run.senderLoop } : {}),
            ...(run.receiverLoop ? { receiver: run.receiverLoop } : {}),
          },
        })
        progress(
          `  lines-1m: ${lines.toLocaleString('en-US')} lines in ${seconds.toFixed(1)} s (${Math.round(lines / seconds).toLocaleString('en-US')} lines/s)`,
        )
        if (lines === sizes.at(-1)) {
          const budget = Math.max(10_000, deadline - performance.now())
          result.startup = await measureStartups(run.senderDir, run.receiverDir, budget).catch(
            (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
          )
        }
      } finally {
        removeDir(run.senderDir)
        removeDir(run.receiverDir)
      }
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error)
    progress(`  lines-1m failed: ${result.error}`)
  } finally {
    removeDir(inputDir)
  }
  return result
}

export interface KeptMessages {
  /** `sent` and `received` records. */
  messages: number
  /** UTF-8 bytes of their text. */
  textBytes: number
}

/**
 * The messages a journal file holds and their text, read from its frames (`[u32 length][u32 CRC][payload]`
 * after a header line, the payload a JSON array, Brotli if the length's top bit is set; see
 * `@parley/store`): what a kept message costs is the file over them.
 */
export function keptMessages(path: string): KeptMessages {
  const kept = { messages: 0, textBytes: 0 }
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch {
    return kept
  }
  let offset = bytes.indexOf(0x0a) + 1
  while (offset > 0 && offset + 8 <= bytes.length) {
    const word = bytes.readUInt32BE(offset)
    const length = word & 0x7fff_ffff
    const stored = bytes.subarray(offset + 8, offset + 8 + length)
    const payload = word & 0x8000_0000 ? brotliDecompressSync(stored) : stored
    const records = JSON.parse(payload.toString('utf8')) as { t?: string; msg?: { body?: string } }[]
    for (const r of records)
      if ((r.t === 'sent' || r.t === 'received') && typeof r.msg?.body === 'string') {
        kept.messages++
        kept.textBytes += Buffer.byteLength(r.msg.body)
      }
    offset += 8 + length
  }
  return kept
}

/** Compactions a node did while it ran, from the `journal-compacted` lines of its parley.log. */
function compactionsIn(dir: string): number {
  try {
    return readFileSync(join(dir, 'parley.log'), 'utf8').split('"event":"journal-compacted"').length - 1
  } catch {
    return 0
  }
}

async function measureStartups(senderDir: string, receiverDir: string, timeoutMs: number) {
  const fresh = tempDir('parley-bench-fresh-')
  try {
    const freshMs = await timeStartup(fresh, timeoutMs)
    const receiverFirstMs = await timeStartup(receiverDir, timeoutMs)
    const receiverJournalAfter = dirBytes(receiverDir, 'journal.log').file
    const receiverSecondMs = await timeStartup(receiverDir, timeoutMs)
    const senderFirstMs = await timeStartup(senderDir, timeoutMs)
    return { freshMs, receiverFirstMs, receiverSecondMs, senderFirstMs, receiverJournalAfter }
  } finally {
    removeDir(fresh)
  }
}

/** Lines per second of each block of the run, from its marks (the first block includes start-up). */
export function blockRates(run: GrowthRun): { from: number; to: number; linesPerSec: number; mark: Mark }[] {
  const out = []
  let previous = { lines: 0, ms: 0 }
  for (const mark of run.marks) {
    out.push({
      from: previous.lines,
      to: mark.lines,
      linesPerSec: (mark.lines - previous.lines) / ((mark.ms - previous.ms) / 1000),
      mark,
    })
    previous = mark
  }
  return out
}

interface GrowthTarget {
  figure: string
  value: number | undefined
  target: string
  met: boolean | undefined
  detail: string
}

export function growthTargets(result: GrowthResult): GrowthTarget[] {
  const first = result.runs[0]
  const last = result.runs.at(-1)
  const longest = last && last !== first ? last : undefined
  // The first block carries the sender's start-up and the handshake: steadiness is judged on the others.
  const blocks = longest ? blockRates(longest).slice(1) : []
  const blockMedian = blocks.length > 0 ? median(blocks.map((b) => b.linesPerSec)) : undefined
  const spread =
    blockMedian === undefined
      ? undefined
      : Math.max(...blocks.map((b) => Math.abs(b.linesPerSec / blockMedian - 1)))
  const steady = longest && first ? longest.linesPerSec / first.linesPerSec : undefined
  const firstMark = longest?.marks[0]
  const lastMark = blocks.at(-1)?.mark
  const grow = (field: 'senderRssKiB' | 'receiverRssKiB') =>
    firstMark?.[field] && lastMark?.[field] ? lastMark[field]! / firstMark[field]! : undefined
  const startup = result.startup && 'receiverFirstMs' in result.startup ? result.startup : undefined
  const within = (v: number | undefined, ok: (v: number) => boolean) => (v === undefined ? undefined : ok(v))
  const stall = (side: 'sender' | 'receiver') => {
    const stalls = result.runs.flatMap((run) => (run.loop[side] ? [run.loop[side].maxMs] : []))
    return stalls.length > 0 ? Math.max(...stalls) : undefined
  }
  // What each message the journal keeps costs on disk: the file (every record and framing) over their text.
  const perText = (side: 'sender' | 'receiver') =>
    last && last.kept[side].textBytes > 0 ? last.journal[side] / last.kept[side].textBytes : undefined
  const perKept = (side: 'sender' | 'receiver') =>
    last && last.kept[side].messages > 0
      ? `${(last.journal[side] / last.kept[side].messages).toFixed(0)} B per kept message (${last.kept[side].messages.toLocaleString('en-US')} kept)`
      : ''
  return [
    {
      figure: `lines/s, ${fmtLines(longest?.lines)} run / ${fmtLines(first?.lines)} run`,
      value: steady,
      target: '1 ± 0.1',
      met: within(steady, (v) => Math.abs(v - 1) <= 0.1),
      detail:
        first && longest
          ? `${Math.round(longest.linesPerSec).toLocaleString('en-US')} vs ${Math.round(first.linesPerSec).toLocaleString('en-US')} lines/s`
          : '',
    },
    {
      figure: `${fmtLines(result.block)} blocks of the ${fmtLines(longest?.lines)} run but the first, widest gap to median`,
      value: spread,
      target: '≤ 0.1',
      met: within(spread, (v) => v <= 0.1),
      detail: blockMedian ? `median ${Math.round(blockMedian).toLocaleString('en-US')} lines/s` : '',
    },
    {
      figure: 'sender RSS, last block / first block',
      value: grow('senderRssKiB'),
      target: 'flat (≤ 1.1)',
      met: within(grow('senderRssKiB'), (v) => v <= 1.1),
      detail: longest ? `peak ${mib(longest.senderPeakKiB)}` : '',
    },
    {
      figure: 'receiver RSS, last block / first block',
      value: grow('receiverRssKiB'),
      target: 'flat (≤ 1.1)',
      met: within(grow('receiverRssKiB'), (v) => v <= 1.1),
      detail: longest ? `peak ${mib(longest.receiverPeakKiB)}` : '',
    },
    // With --live-heap: what survives a full collection, which RSS alone cannot tell from V8's heap sizing.
    ...(['sender', 'receiver'] as const).flatMap((side) => {
      const live = longest && liveGrowth(longest.loop[side]?.afterFullGcBytes)
      if (!live) return []
      return [
        {
          figure: `${side} old generation after forced full GCs, least in last / middle third (explains RSS)`,
          value: live.ratio,
          target: 'flat (≤ 1.1)',
          met: live.ratio <= 1.1,
          detail: `${mibOf(live.middle)} → ${mibOf(live.last)} MiB, at most ${mibOf(live.max)} MiB over ${live.count} GCs`,
        },
      ]
    }),
    {
      figure: `sender journal / text of the messages it keeps, after ${fmtLines(last?.lines)}`,
      value: perText('sender'),
      target: '≤ 2',
      met: within(perText('sender'), (v) => v <= 2),
      detail: perKept('sender'),
    },
    {
      figure: `receiver journal / text of the messages it keeps, after ${fmtLines(last?.lines)}`,
      value: perText('receiver'),
      target: '≤ 2',
      met: within(perText('receiver'), (v) => v <= 2),
      detail: perKept('receiver'),
    },
    {
      // Compaction must not pause delivery: the longest the receiver's event loop stood still, at any
      // point of any run, against a tenth of a second, about where a reader starts to notice.
      figure: 'receiver longest event-loop stall while lines arrive, any run (ms)',
      value: stall('receiver'),
      target: '≤ 100',
      met: within(stall('receiver'), (v) => v <= 100),
      detail: stall('sender') === undefined ? '' : `sender ${stall('sender')!.toFixed(0)} ms`,
    },
    {
      figure: `start-up on the ${fmtLines(last?.lines)} receiver's data dir (s)`,
      value: startup ? startup.receiverFirstMs / 1000 : undefined,
      target: '≤ 1',
      met: within(startup?.receiverFirstMs, (v) => v <= 1000),
      detail: startup
        ? `again: ${(startup.receiverSecondMs / 1000).toFixed(2)} s; sender's dir ${(startup.senderFirstMs / 1000).toFixed(2)} s; fresh dir ${(startup.freshMs / 1000).toFixed(2)} s`
        : '',
    },
  ]
}

export function renderGrowth(result: GrowthResult): string[] {
  const out = [
    `piped lines as the run grows (lines-1m): ${result.sizes.map(fmtLines).join(', ')} lines of 60 bytes through parley (secure, journals on both sides, receiver --rate 0), one run each`,
    '',
  ]
  const runs: string[][] = [
    [
      'lines',
      'time',
      'lines/s',
      'sender peak',
      'receiver peak',
      'journal send/recv',
      'B/msg send/recv',
      '× text',
      'compactions send/recv',
      'longest loop delay send/recv',
    ],
  ]
  for (const run of result.runs)
    runs.push([
      fmtLines(run.lines),
      `${run.seconds.toFixed(1)} s`,
      Math.round(run.linesPerSec).toLocaleString('en-US'),
      mib(run.senderPeakKiB),
      mib(run.receiverPeakKiB),
      `${mb(run.journal.sender)} / ${mb(run.journal.receiver)}`,
      `${(run.journal.sender / run.lines).toFixed(0)} / ${(run.journal.receiver / run.lines).toFixed(0)}`,
      `${(run.journal.sender / run.textBytes).toFixed(2)} / ${(run.journal.receiver / run.textBytes).toFixed(2)}`,
      `${run.compactions.sender} / ${run.compactions.receiver}`,
      `${loopMs(run.loop.sender)} / ${loopMs(run.loop.receiver)}`,
    ])
  out.push(...table(runs, [true, true, true, true, true, true, true, true, true, true]), '')
  const longest = result.runs.length > 1 ? result.runs.at(-1) : undefined
  if (longest) {
    const blocks: string[][] = [['block', 'lines/s', 'sender RSS', 'receiver RSS', 'at']]
    for (const b of blockRates(longest))
      blocks.push([
        `${fmtLines(b.from)}-${fmtLines(b.to)}${b.from === 0 ? ' (with start-up)' : ''}`,
        Math.round(b.linesPerSec).toLocaleString('en-US'),
        b.mark.senderRssKiB ? mib(b.mark.senderRssKiB) : '—',
        b.mark.receiverRssKiB ? mib(b.mark.receiverRssKiB) : '—',
        `${(b.mark.ms / 1000).toFixed(1)} s`,
      ])
    out.push(
      `blocks of the ${fmtLines(longest.lines)} run:`,
      ...table(blocks, [false, true, true, true, true]),
      '',
    )
  }
  const targets: string[][] = [['target (issue 18)', 'value', 'target', 'met', 'detail']]
  for (const t of growthTargets(result))
    targets.push([
      t.figure,
      t.value === undefined ? '—' : t.value.toFixed(2),
      t.target,
      t.met === undefined ? '—' : t.met ? 'yes' : 'NO',
      t.detail,
    ])
  out.push(...table(targets, [false, true, false, false, false]), '')
  if (result.startup && 'error' in result.startup)
    out.push(`start-up: not measured (${result.startup.error})`)
  if (result.error) out.push(`lines-1m: stopped: ${result.error}`)
  out.push(
    "  time: from the sender's spawn to the receiver's last line, as in the piped-lines section. RSS at a block",
    '    is VmRSS when its last line reached the receiver; peaks are VmHWM from /proc, read every 250 ms and at each',
    '    block. Journal: journal.log of each data dir when the run ends; × text: over the bytes of text sent (no',
    '    newlines). Journal / text of the messages it keeps: journal.log over the text of the sent and received',
    '    records in it (what compaction kept). Start-up: spawn to the `listening` line of `parley --recv-only` on',
    '    that data dir (it replays the journal as it reads it and starts on the records the state rests on; a long',
    '    journal is written compacted once the node runs).',
    '    Compactions: those each node did while it ran. Longest loop delay: the longest stall of the event loop',
    '    (monitorEventLoopDelay, loaded with node --import) from half a second after the receiver listened to the end.',
    '    With --live-heap, each end also collects all its garbage every half second and notes the old generation',
    '    after it (the "explains RSS" rows): flat there while RSS grows means V8 sized its heap up, nothing was kept.',
  )
  return out
}

export function growthSummary(result: GrowthResult) {
  const startup = result.startup && 'receiverFirstMs' in result.startup ? result.startup : undefined
  const longest = result.runs.length > 1 ? result.runs.at(-1) : undefined
  return {
    sizes: result.sizes,
    block: result.block,
    runs: result.runs.map((run) => ({
      lines: run.lines,
      seconds: round(run.seconds, 3),
      linesPerSec: Math.round(run.linesPerSec),
      senderPeakKiB: run.senderPeakKiB,
      receiverPeakKiB: run.receiverPeakKiB,
      journalBytes: run.journal,
      keptMessages: run.kept,
      textBytes: run.textBytes,
      compactions: run.compactions,
      loopDelayMaxMs: {
        sender: round(run.loop.sender?.maxMs, 1) ?? null,
        receiver: round(run.loop.receiver?.maxMs, 1) ?? null,
      },
    })),
    blocks: longest
      ? blockRates(longest).map((b) => ({
          to: b.to,
          linesPerSec: Math.round(b.linesPerSec),
          senderRssKiB: b.mark.senderRssKiB ?? null,
          receiverRssKiB: b.mark.receiverRssKiB ?? null,
        }))
      : [],
    startupMs: startup
      ? {
          receiverFirst: round(startup.receiverFirstMs, 1),
          receiverSecond: round(startup.receiverSecondMs, 1),
          senderFirst: round(startup.senderFirstMs, 1),
          fresh: round(startup.freshMs, 1),
        }
      : null,
    receiverJournalAfterStart: startup?.receiverJournalAfter ?? null,
    targets: growthTargets(result).map((t) => ({
      figure: t.figure,
      value: round(t.value, 3) ?? null,
      target: t.target,
      met: t.met ?? null,
    })),
    error: result.error ?? (result.startup && 'error' in result.startup ? result.startup.error : null),
  }
}

function fmtLines(n: number | undefined): string {
  if (n === undefined) return '—'
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`
  return String(n)
}

function loopMs(loop: LoopDelay | undefined): string {
  return loop ? `${loop.maxMs.toFixed(0)} ms` : '—'
}

/**
 * Whether what a node keeps grows with the run: the least the old generation held after a forced full
 * collection in the last third of the samples, over the least in the middle third. The least, because a
 * collection during a compaction or a large batch also finds what those hold for a moment; the middle
 * third, because the first holds the start and the first compaction's warm-up. Undefined with fewer than
 * three samples.
 */
export function liveGrowth(
  bytes: readonly number[] | undefined,
): { ratio: number; middle: number; last: number; max: number; count: number } | undefined {
  if (!bytes || bytes.length < 3) return undefined
  const third = Math.floor(bytes.length / 3)
  const middle = Math.min(...bytes.slice(third, bytes.length - third))
  const last = Math.min(...bytes.slice(-third))
  return { ratio: last / middle, middle, last, max: Math.max(...bytes), count: bytes.length }
}

function mibOf(bytes: number): string {
  return (bytes / 1048576).toFixed(1)
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(0)} MiB`
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}
