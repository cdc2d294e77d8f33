import { describe, expect, it } from 'vitest'
import type { JournalRecord } from './journal.js'
import { skimFrame } from './journal-skim.js'
import { JournalError, JournalStartup } from './journal-startup.js'

const self = { id: 'a'.repeat(16), name: 'alice' }
const bob = { id: 'b'.repeat(16), name: 'bob' }
const msg = (seq: number) => ({
  type: 'msg' as const,
  id: `m${seq}`,
  seq,
  ts: seq,
  from: self.id,
  body: `hi ${seq}`,
})

/** Starts from frames of one record each; `load` serves them as they were. */
async function startFrom(records: readonly unknown[]) {
  const startup = new JournalStartup<number>(self, 10, 2)
  records.forEach((record, n) => {
    startup.add([record], n)
  })
  return startup.finish(async (frames) => frames.map((n) => [records[n]]))
}

describe('JournalStartup', () => {
  it('refuses a damaged record with its index and what is wrong', async () => {
    const damaged: [unknown, RegExp][] = [
      [null, /record 1 .*not a record with a type/],
      [{ t: 'sent', msg: null }, /record 1 .*"sent" record without a message/],
      [{ t: 'received', msg: msg(1) }, /record 1 .*"received" record without a message and a name/],
      [{ t: 'received', msg: msg(1), name: 'bob', at: 'soon' }, /record 1 .*"received" record whose arrival/],
      [{ t: 'acked', peer: bob, upTo: '3' }, /record 1 .*"acked" record without a peer and a seq/],
      [{ t: 'peer', peer: { id: 1 }, epoch: 'e' }, /record 1 .*"peer" record without a peer/],
      [{ t: 'settled', upTo: -1 }, /record 1 .*"settled" record without a seq/],
      // A count of lines no message carries: refused before anything is made that long.
      [{ t: 'sent', msg: { ...msg(1), lines: 5_000_000_000 } }, /record 1 .*"sent" record without a message/],
      [{ t: 'sent', msg: { ...msg(1), lines: 1 } }, /record 1 .*"sent" record without a message/],
      // `more` is `true` or absent, as on the wire.
      [{ t: 'sent', msg: { ...msg(1), more: 'yes' } }, /record 1 .*"sent" record without a message/],
    ]
    for (const [record, message] of damaged) {
      const error = await startFrom([{ t: 'self', epoch: 'e' }, record]).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(JournalError)
      expect(error).toMatchObject({ code: 'BAD_RECORD', message: expect.stringMatching(message) })
    }
  })

  it('checks a message the state keeps as a message from the network is checked', async () => {
    const error = await startFrom([{ t: 'sent', msg: { ...msg(1), from: 'not hex' } }]).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'BAD_RECORD', message: expect.stringMatching(/^record 0 .*from/) })
  })

  it('refuses a frame that no longer holds what it held when read', async () => {
    const startup = new JournalStartup<number>(self, 10, 2)
    startup.add([{ t: 'sent', msg: msg(1) }], 0)
    const error = await startup.finish(async () => [[]]).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'BAD_RECORD' })
  })

  it('leaves a journal holding a record of a newer version to be replayed whole', async () => {
    const records: unknown[] = [
      { t: 'sent', msg: msg(1) },
      { t: 'future', x: 1 },
    ]
    expect(await startFrom(records)).toBeUndefined()
  })

  it('starts on the records the state rests on, reading again only their frames', async () => {
    const records: JournalRecord[] = [
      { t: 'self', epoch: 'e' },
      { t: 'peer', peer: bob, epoch: 'b1' },
    ]
    for (let seq = 1; seq <= 30; seq++) records.push({ t: 'sent', msg: msg(seq) })
    records.push({ t: 'acked', peer: bob, upTo: 30 })
    const startup = new JournalStartup<number>(self, 10, 2)
    records.forEach((record, n) => {
      startup.add([record], n)
    })
    const asked: number[] = []
    const start = await startup.finish(async (frames) => {
      asked.push(...frames)
      return frames.map((n) => [records[n]])
    })
    // The history's 10 messages and the deciding ack; the self and peer records were kept as read.
    expect(asked).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32])
    expect(start?.records).toEqual([records[0], records[1], ...records.slice(22)])
    expect(start?.state.history.map((e) => e.seq)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30])
    expect(start?.state.nextSeq).toBe(31)
  })

  it('pauses between steps of checking what it keeps, when asked to, and keeps the same', async () => {
    const records: JournalRecord[] = [{ t: 'self', epoch: 'e' }]
    for (let seq = 1; seq <= 5000; seq++) records.push({ t: 'sent', msg: msg(seq) })
    const run = async (pause?: () => Promise<void>) => {
      const startup = new JournalStartup<number>(self, 5000, 2)
      for (let n = 0; n < records.length; n += 100) startup.add(records.slice(n, n + 100), n / 100)
      const load = async (frames: number[]) => frames.map((f) => records.slice(f * 100, f * 100 + 100))
      return startup.finish(load, pause)
    }
    let pauses = 0
    const paused = await run(async () => {
      pauses++
    })
    // 5,000 messages checked, a pause after each thousand or so.
    expect(pauses).toBeGreaterThanOrEqual(4)
    const straight = await run()
    expect(paused?.records).toEqual(straight?.records)
    expect(paused?.records).toHaveLength(5001)
  })

  it('starts on receipts of an earlier release (no `at`) and of this one alike, each kept with its `at`', async () => {
    const fromBob = (seq: number) => ({ ...msg(seq), id: `b${seq}`, from: bob.id })
    const records: JournalRecord[] = [{ t: 'self', epoch: 'e' }]
    // Ten receipts as an earlier release wrote them, then ten with when they arrived.
    for (let seq = 1; seq <= 10; seq++) records.push({ t: 'received', msg: fromBob(seq), name: 'bob' })
    for (let seq = 11; seq <= 20; seq++)
      records.push({ t: 'received', msg: fromBob(seq), name: 'bob', at: 1_800_000_000_000 + seq })
    // Read as the store reads them: each frame skimmed where it can be, parsed in full when read again.
    const frames = records.map((record) => JSON.stringify([record]))
    const startup = new JournalStartup<number>(self, 14, 2)
    frames.forEach((text, n) => {
      const skimmed = skimFrame(text)
      if (n > 0) expect(skimmed).toBeDefined()
      startup.add(skimmed ?? (JSON.parse(text) as unknown[]), n)
    })
    const start = await startup.finish(async (asked) => asked.map((n) => JSON.parse(frames[n] as string)))
    const history = start?.state.history ?? []
    expect(history.map((e) => [e.seq, e.at])).toEqual([
      ...[7, 8, 9, 10].map((seq) => [seq, undefined]),
      ...[11, 12, 13, 14, 15, 16, 17, 18, 19, 20].map((seq) => [seq, 1_800_000_000_000 + seq]),
    ])
    expect(history.filter((e) => 'at' in e).map((e) => e.seq)).toEqual([
      11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ])
    // The compacted journal keeps each kept receipt whole, its `at` with it.
    expect(start?.records.filter((r) => r.t === 'received')).toEqual(records.slice(7))
  })
})
