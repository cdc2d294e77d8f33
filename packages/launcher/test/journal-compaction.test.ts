/** Compaction of a long journal found at start-up, on a real data dir and a real node listening on loopback. */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { type JournalRecord, type Msg, type NodeEvent, restore } from '@parley/core'
import { AppendLog } from '@parley/store'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ExitCode, FatalError } from '../src/exit-codes.js'
import { parseFlags } from '../src/flags.js'
import { JOURNAL_FILE, showIdentity, startNode, startupNotes } from '../src/node-setup.js'

const WINDOW = 5
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/**
 * A long journal, written by this build (format version 2) or byte for byte as a release before
 * compression wrote it (version 1: plain frames under `parley-log 1`).
 */
async function dataDirWithLongJournal(rounds: number, version: 1 | 2 = 2) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-compact-'))
  dirs.push(dir)
  const flags = parseFlags(
    ['--data-dir', dir, '--listen', '127.0.0.1:0', '--name', 'alice', '--window', String(WINDOW)],
    {},
  )
  const self = { id: (await showIdentity(flags, {})).id, name: 'alice' }
  const bob = { id: 'b'.repeat(64), name: 'bob' }
  const message = (seq: number, from: string): Msg => ({
    type: 'msg',
    id: `${from.slice(0, 4)}-${seq}`,
    seq,
    ts: 1_700_000_000_000 + seq,
    from,
    body: `message ${seq} `.padEnd(120, '.'),
  })
  const batches: JournalRecord[][] = [
    [
      { t: 'self', epoch: 'alice-1' },
      { t: 'peer', peer: bob, epoch: 'bob-1' },
    ],
  ]
  let batch: JournalRecord[] = []
  for (let seq = 1; seq <= rounds; seq++) {
    batch.push(
      { t: 'sent', msg: message(seq, self.id) },
      { t: 'received', msg: message(seq, bob.id), name: bob.name },
      { t: 'acked', peer: bob, upTo: seq },
    )
    if (batch.length >= 3_000 || seq === rounds) {
      batches.push(batch)
      batch = []
    }
  }
  if (version === 1) {
    const frames = batches.map((records) => {
      const payload = Buffer.from(JSON.stringify(records))
      const head = Buffer.alloc(8)
      head.writeUInt32BE(payload.length, 0)
      head.writeUInt32BE(crc32(payload), 4)
      return Buffer.concat([head, payload])
    })
    await writeFile(join(dir, JOURNAL_FILE), Buffer.concat([Buffer.from('parley-log 1\n'), ...frames]), {
      mode: 0o600,
    })
    return { dir, flags, self }
  }
  const log = await AppendLog.open(join(dir, JOURNAL_FILE))
  for (const records of batches) await log.append(records)
  await log.close()
  return { dir, flags, self }
}

async function readJournal(dir: string) {
  const header = (await readFile(join(dir, JOURNAL_FILE))).subarray(0, 13).toString('latin1')
  const log = await AppendLog.open(join(dir, JOURNAL_FILE))
  await log.close()
  return {
    records: log.records as JournalRecord[],
    size: (await stat(join(dir, JOURNAL_FILE))).size,
    plainSize: log.plainSize,
    header,
  }
}

describe('journal compaction of a long journal found at startup', () => {
  it.each([2, 1] as const)(
    'rewrites a long journal of format version %i with the records that restore the same history, outbox and peers, as version 2',
    async (version) => {
      const { dir, flags, self } = await dataDirWithLongJournal(12_000, version)
      const before = await readJournal(dir)
      expect(before.header).toBe(`parley-log ${version}\n`)
      const events: NodeEvent[] = []
      const started = await startNode(flags, (e) => events.push(e), {}, { PARLEY_COMPACT_BYTES: '65536' })
      // The node starts on the compacted records and writes them over the file once it runs.
      const compacted = await vi.waitFor(
        () => {
          const event = events.find((e) => e.type === 'journal-compacted')
          if (!event) throw new Error('not compacted yet')
          return event
        },
        { timeout: 60_000, interval: 20 },
      )
      await started.node.close()
      // The node releases the data dir once its journal is closed.
      await vi.waitFor(() => showIdentity(flags, {}), { timeout: 60_000, interval: 20 })

      const after = await readJournal(dir)
      expect(after.header).toBe('parley-log 2\n')
      // Measured stored plain: this journal's repeated lines compress about as well in its long frames as
      // in the rewrite's frames of 64, so its size on disk need not halve.
      expect(after.plainSize).toBeLessThan(before.plainSize / 2)
      if (version === 1) expect(after.size).toBeLessThan(before.size / 4)
      expect(compacted).toEqual({
        type: 'journal-compacted',
        records: before.records.length,
        keptRecords: after.records.length,
        bytes: before.size,
        keptBytes: after.size,
      })
      expect(restore(after.records, self, undefined, WINDOW)).toStrictEqual(
        restore(before.records, self, undefined, WINDOW),
      )
      // The history holds 10,000 entries; the other 14,000 messages were acknowledged long ago.
      expect(started.node.history).toHaveLength(10_000)
      expect(
        events.filter((e) => e.type === 'journal-error' || e.type === 'journal-compaction-failed'),
      ).toEqual([])
      expect(startupNotes(started)).toEqual([])
    },
  )

  it('leaves a journal past the threshold alone when compacting could not halve it', async () => {
    // 4,000 rounds: 12,002 records, of which the 8,000 messages of the history must stay.
    const { dir, flags } = await dataDirWithLongJournal(4_000)
    const before = await readJournal(dir)
    const events: NodeEvent[] = []
    const started = await startNode(flags, (e) => events.push(e), {}, { PARLEY_COMPACT_BYTES: '65536' })
    await started.node.close()
    await vi.waitFor(() => showIdentity(flags, {}), { timeout: 60_000, interval: 20 })
    expect(events.filter((e) => e.type.startsWith('journal-'))).toEqual([])
    expect(startupNotes(started)).toEqual([])
    expect((await readJournal(dir)).records).toEqual(before.records)
  })

  it('cuts off a torn tail of the journal with one start-up note, not a process warning', async () => {
    const { dir, flags } = await dataDirWithLongJournal(10)
    const path = join(dir, JOURNAL_FILE)
    const whole = await readFile(path)
    // The last append half written, as a crash mid-write leaves it.
    const torn = Buffer.alloc(40)
    torn.writeUInt32BE(1_000, 0)
    await writeFile(path, Buffer.concat([whole, torn]))
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.message)
    process.on('warning', onWarning)
    try {
      const started = await startNode(flags, () => undefined, {}, {})
      await started.node.close()
      await vi.waitFor(() => showIdentity(flags, {}), { timeout: 60_000, interval: 20 })
      expect(startupNotes(started)).toEqual([
        `${path}: dropped 40 bytes at offset ${whole.length} (incomplete frame payload), a write torn by a crash; every earlier record is intact`,
      ])
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).toEqual([])
    expect((await readFile(path)).equals(whole)).toBe(true)
  })

  it('refuses a journal holding a damaged record in one line that names it, with the data dir exit code', async () => {
    const { dir, flags } = await dataDirWithLongJournal(10)
    const log = await AppendLog.open(join(dir, JOURNAL_FILE))
    await log.append([{ t: 'received', msg: { seq: 'eleven' }, name: 'bob' }])
    await log.close()
    const error = await startNode(flags, () => undefined, {}, {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FatalError)
    expect(error).toMatchObject({
      exitCode: ExitCode.DATA_DIR,
      message: `cannot use ${join(dir, JOURNAL_FILE)}: record 32 of the journal is damaged: a "received" record without a message and a name; move it away to start without its history and outbox`,
    })
    // The data dir is released: the next try gets the same answer, not a lock.
    await expect(startNode(flags, () => undefined, {}, {})).rejects.toMatchObject({
      exitCode: ExitCode.DATA_DIR,
    })
  })

  it('says what to do about a journal it may not write, naming it once', async (context) => {
    const { dir, flags } = await dataDirWithLongJournal(10)
    const path = join(dir, JOURNAL_FILE)
    // Immutable: not even root may open it for writing (EPERM), as a user may not a file of another's (EACCES).
    try {
      execFileSync('chattr', ['+i', path], { stdio: 'ignore' })
    } catch {
      // A file system without the flag (tmpfs), or no chattr: nothing here can refuse root a file.
      context.skip()
    }
    try {
      const error = await startNode(flags, () => undefined, {}, {}).catch((e: unknown) => e)
      expect(error).toMatchObject({
        exitCode: ExitCode.DATA_DIR,
        message: `cannot open ${path} (EPERM); parley may not read or write it: give yourself access (chown or chmod u+rw it, chattr -i if it is immutable) or give another --data-dir`,
      })
    } finally {
      execFileSync('chattr', ['-i', path])
    }
  })

  it('replays whole, and leaves as it is, a long journal holding a record of a newer version', async () => {
    const { dir, flags, self } = await dataDirWithLongJournal(12_000)
    const log = await AppendLog.open(join(dir, JOURNAL_FILE))
    await log.append([{ t: 'from-a-newer-parley', x: 1 }])
    await log.close()
    const before = await readJournal(dir)
    const events: NodeEvent[] = []
    const started = await startNode(flags, (e) => events.push(e), {}, { PARLEY_COMPACT_BYTES: '65536' })
    expect(started.node.history).toEqual(
      restore(before.records, self, undefined, WINDOW).history.map((e) => ({
        ...e,
        from: expect.anything(),
      })),
    )
    await started.node.close()
    await vi.waitFor(() => showIdentity(flags, {}), { timeout: 60_000, interval: 20 })
    expect(events.filter((e) => e.type.startsWith('journal-'))).toEqual([])
    expect((await readJournal(dir)).records).toEqual(before.records)
  })

  it('leaves a journal below the threshold as it is', async () => {
    const { dir, flags } = await dataDirWithLongJournal(200)
    const before = await readJournal(dir)
    const events: NodeEvent[] = []
    const started = await startNode(flags, (e) => events.push(e), {}, {})
    await started.node.close()
    await vi.waitFor(() => showIdentity(flags, {}), { timeout: 60_000, interval: 20 })
    expect(events.filter((e) => e.type.startsWith('journal-'))).toEqual([])
    expect((await readJournal(dir)).records).toEqual(before.records)
  })
})
