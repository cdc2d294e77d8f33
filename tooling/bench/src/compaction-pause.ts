/**
 * How long a compaction while the node runs stops the event loop, against the same compaction done in
 * one go (as at start-up). A journal of piped lines from one neighbour, at the size where the running
 * node compacts it (4 times what it keeps: 10,000 lines of history), is mirrored and compacted by
 * `OnlineCompaction`; the rewrite encodes every kept record as the store does and writes a file.
 *   node tooling/bench/dist/compaction-pause.js [RECORDS] [ROUNDS]
 */
import { rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { compactJournal, type JournalRecord, type Msg, OnlineCompaction } from '@parley/core'
import { median } from './stats.js'

const records = Number(process.argv[2] ?? 40_000)
const rounds = Number(process.argv[3] ?? 5)
const self = { id: 'a'.repeat(64), name: 'alice' }
const bob = { id: 'b'.repeat(64), name: 'bob' }
const filler = 'the quick brown fox jumps over the lazy dog, 0123456789 abcdefghij'

function journal(count: number): JournalRecord[] {
  const out: JournalRecord[] = [
    { t: 'self', epoch: 'alice-1' },
    { t: 'peer', peer: bob, epoch: 'bob-1' },
  ]
  for (let seq = 1; seq <= count; seq++) {
    const msg: Msg = {
      type: 'msg',
      id: seq.toString(16).padStart(16, '0'),
      seq,
      ts: 1_700_000_000_000 + seq,
      from: bob.id,
      body: `${seq} ${filler}`.slice(0, 59),
      name: 'bob',
      prev: 'p'.repeat(43),
      ...(seq % 64 === 0 ? { sig: 's'.repeat(86) } : {}),
    }
    out.push({ t: 'received', msg, name: 'bob' })
  }
  return out
}

const file = join(tmpdir(), `parley-compaction-pause-${process.pid}.log`)

/** Longest event-loop stall (ms) while `work` runs, with a timer ticking beside it as a node's would. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  const tick = setInterval(() => undefined, 1)
  histogram.enable()
  await work()
  histogram.disable()
  clearInterval(tick)
  return histogram.max / 1e6
}

const online: number[] = []
const oneGo: number[] = []
let kept = 0
for (let round = 0; round < rounds; round++) {
  const whole = journal(records)
  oneGo.push(
    await longestStall(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      const result = compactJournal(whole, self, 10_000, 1_000) ?? []
      await writeFile(file, result.map((r) => JSON.stringify([r])).join('\n'))
    }),
  )
  let size = Number.POSITIVE_INFINITY
  const compaction = new OnlineCompaction(
    {
      records: whole,
      size: () => size,
      scan: async (onFrame) => {
        whole.forEach((record, i) => {
          onFrame([record], i)
        })
      },
      load: async (frames) => frames.map((i) => [whole[i as number]]),
      minBytes: 0,
      rewrite: async (next) => {
        // As the store does: every record encoded before the file is written.
        const bytes = next.map((r) => JSON.stringify([r])).join('\n')
        kept = next.length
        await writeFile(file, bytes)
        size = bytes.length
      },
    },
    { self, historyLimit: 10_000, windowSize: 1_000, compacted: () => undefined, failed: console.error },
  )
  online.push(
    await longestStall(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      await compaction.compact()
    }),
  )
}
await rm(file, { force: true })
console.log(
  `${records.toLocaleString('en-US')} records → ${kept.toLocaleString('en-US')} kept; longest event-loop stall, median of ${rounds}: ` +
    `in steps (online) ${median(online).toFixed(1)} ms, in one go ${median(oneGo).toFixed(1)} ms ` +
    `(ratio ${(median(online) / median(oneGo)).toFixed(2)})`,
)
