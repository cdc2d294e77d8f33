#!/usr/bin/env node
// Records per second with group commit against one fsync per record, median of 5 runs.
// Run after a build: `pnpm --filter @parley/store bench [-- --dir DIR]` (DIR on the disk you care about;
// a tmpfs makes fsync free and the comparison meaningless).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { AppendLog } from '../dist/index.js'

const { values } = parseArgs({ options: { dir: { type: 'string' }, runs: { type: 'string', default: '5' } } })
const runs = Number(values.runs)
const base = await mkdtemp(join(values.dir ?? tmpdir(), 'parley-bench-'))

// About the size of a journal record for a short chat line.
const record = (seq) => ({
  t: 'sent',
  msg: {
    type: 'msg',
    id: `01J${seq.toString(36).padStart(23, '0')}`,
    seq,
    ts: 1_760_000_000_000 + seq,
    from: 'a1b2c3d4e5f60718',
    body: 'hello there, how is it going?',
  },
})

const modes = [
  {
    name: 'one fsync per record (each append awaited)',
    records: 300,
    async run(log, n) {
      for (let i = 1; i <= n; i++) await log.append([record(i)])
    },
  },
  {
    name: 'group commit, 16 writers each awaiting its appends',
    records: 5_000,
    async run(log, n) {
      let next = 1
      const writer = async () => {
        while (next <= n) await log.append([record(next++)])
      }
      await Promise.all(Array.from({ length: 16 }, writer))
    },
  },
  {
    name: 'group commit, every append issued at once',
    records: 20_000,
    async run(log, n) {
      const appends = []
      for (let i = 1; i <= n; i++) appends.push(log.append([record(i)]))
      await Promise.all(appends)
    },
  },
]

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rows = []
let replay
try {
  for (const mode of modes) {
    const rates = []
    const flushes = []
    for (let r = 0; r < runs; r++) {
      const log = await AppendLog.open(join(base, `${rows.length}-${r}.log`))
      const start = process.hrtime.bigint()
      await mode.run(log, mode.records)
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      rates.push(mode.records / seconds)
      flushes.push(log.stats.flushes)
      await log.close()
    }
    rows.push({ name: mode.name, records: mode.records, flushes: median(flushes), rate: median(rates) })
  }
  // How long a restart spends replaying a log before it can decide to compact it.
  const replayRecords = 100_000
  const path = join(base, 'replay.log')
  const log = await AppendLog.open(path)
  await modes[2].run(log, replayRecords)
  const size = log.size
  await log.close()
  const times = []
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint()
    await (await AppendLog.open(path)).close()
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  replay = { records: replayRecords, megabytes: size / 1e6, ms: median(times) }
} finally {
  await rm(base, { recursive: true, force: true })
}

const baseline = rows[0].rate
const format = (n) => Math.round(n).toLocaleString('en-US')
console.log(
  `node ${process.version}, ${process.platform}, dir ${values.dir ?? tmpdir()}, median of ${runs} runs\n`,
)
console.log('| mode | records | fsyncs | records/s | vs one fsync per record |')
console.log('|---|---:|---:|---:|---:|')
for (const row of rows) {
  const ratio = `${(row.rate / baseline).toFixed(1)}×`
  console.log(
    `| ${row.name} | ${format(row.records)} | ${format(row.flushes)} | ${format(row.rate)} | ${ratio} |`,
  )
}
console.log(
  `\nopen (replay) of ${format(replay.records)} records, ${replay.megabytes.toFixed(1)} MB: ${replay.ms.toFixed(0)} ms`,
)
