import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AppendLog } from './append-log.js'
import { LOG_HEADER, LOG_HEADER_V2, scanFrames } from './log-format.js'
import { LogUsage } from './usage.js'

let dir: string
let path: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-usage-'))
  path = join(dir, 'journal.log')
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

interface Rec {
  readonly who?: string
  readonly text: string
}
const accountOf = (record: unknown) => (record as Rec).who
const open = () => AppendLog.open(path, { accountOf, onWarning: () => undefined })

function counts(log: AppendLog) {
  return { accounts: log.usage.accounts(), total: log.usage.total }
}

describe('LogUsage', () => {
  it('counts every byte a party makes the log hold, as stored plain, own records against no one', async () => {
    const log = await open()
    await log.append(Array.from({ length: 50 }, () => ({ who: 'mallory', text: 'x'.repeat(100) })))
    await log.append([{ text: 'mine, never counted' }])
    await log.append([
      { who: 'bob', text: 'hi' },
      { who: 'bob', text: 'again' },
    ])
    await log.close()
    const mallory = log.usage.bytesOf('mallory')
    const bob = log.usage.bytesOf('bob')
    // Appends are stored plain (a rewrite compresses; see the property below for the counts then).
    expect(mallory).toBeGreaterThan(5000)
    expect((await stat(path)).size).toBe(log.plainSize)
    expect(bob).toBeGreaterThan(0)
    expect(log.usage.bytesOf('carol')).toBe(0)
    expect(log.usage.total).toBe(mallory + bob)
    // Own records are what is left of the file stored plain.
    const own = log.plainSize - LOG_HEADER.length - log.usage.total
    expect(own).toBe(8 + Buffer.byteLength(JSON.stringify([{ text: 'mine, never counted' }])))
    const again = await open()
    await again.close()
    expect(counts(again)).toEqual(counts(log))
  })

  it('finds the same counts again when the log is reopened, without being told them', async () => {
    const log = await open()
    await log.append([{ who: 'a', text: 'é'.repeat(300) }])
    await log.append([{ who: 'b', text: '\u0001'.repeat(50) }, { text: 'own' }, { who: 'a', text: 'z' }])
    await log.close()
    const again = await open()
    await again.close()
    expect(counts(again)).toEqual(counts(log))
  })

  it('is rebuilt from a rewrite, and counts appends made after it on top', async () => {
    const log = await open()
    // Random text, which compression hardly shrinks.
    for (let i = 0; i < 50; i++)
      await log.append([{ who: 'flood', text: randomBytes(375).toString('base64') }])
    const flooded = log.usage.bytesOf('flood')
    await log.rewrite([{ who: 'flood', text: 'kept' }, { text: 'own' }])
    const rewriting = log.append([{ who: 'late', text: 'after the rewrite' }])
    await rewriting
    expect(log.usage.bytesOf('flood')).toBeLessThan(flooded / 100)
    expect(log.usage.bytesOf('late')).toBeGreaterThan(0)
    await log.close()
    const again = await open()
    await again.close()
    expect(counts(again)).toEqual(counts(log))
  })

  it('writes a rewrite in frames of 64 records, parties mixed, with the same records and counts on reopen', async () => {
    const log = await open()
    const records: Rec[] = []
    // A conversation: parties alternate with the node's own records, in runs of every length.
    for (let i = 0; i < 300; i++) {
      const who = i % 97 < 80 ? (i % 3 === 0 ? undefined : 'bob') : i % 7 === 0 ? undefined : 'carol'
      records.push(
        who === undefined ? { text: `own ${i}` } : { who, text: `${who} said line ${i} of the talk` },
      )
    }
    await log.rewrite(records)
    const counted = counts(log)
    const size = (await stat(path)).size
    await log.close()
    const again = await open()
    await again.close()
    expect(again.records).toEqual(records)
    expect(counts(again)).toEqual(counted)
    // Read the frames as stored: 64 records each, compressed, shared among their parties by their JSON.
    const bytes = await readFile(path)
    const expected = new LogUsage()
    let frames = 0
    let plain = LOG_HEADER.length
    const scan = scanFrames(bytes, LOG_HEADER.length, (frameRecords, _stored, plainBytes) => {
      frames++
      expected.addFrame(frameRecords, plainBytes, accountOf)
      plain += 8 + Buffer.byteLength(JSON.stringify(frameRecords))
    })
    expect(scan.end).toBe(size)
    expect(frames).toBe(Math.ceil(records.length / 64))
    expect(counted.accounts).toEqual(expected.accounts())
    expect(counted.accounts.get('bob')).toBeGreaterThan(2 * (counted.accounts.get('carol') ?? 0))
    expect(log.plainSize).toBe(plain)
    expect(again.plainSize).toBe(plain)
    expect(size).toBeLessThan(plain / 2)
    expect(bytes.subarray(0, LOG_HEADER_V2.length)).toEqual(LOG_HEADER_V2)
  })

  it('writes a rewrite group that would exceed the frame limit a record per frame', async () => {
    const log = await AppendLog.open(path, { accountOf, maxRecordBytes: 300, onWarning: () => undefined })
    const records: Rec[] = [1, 2, 3].map((i) => ({ who: 'bob', text: `${i}`.repeat(200) }))
    await log.rewrite(records)
    await expect(log.rewrite([{ who: 'bob', text: 'x'.repeat(400) }])).rejects.toMatchObject({
      code: 'TOO_LARGE',
    })
    await log.close()
    const again = await open()
    await again.close()
    expect(again.records).toEqual(records)
  })

  it('counts right when rewrites queue up, with appends between and after them', async () => {
    const log = await open()
    const talk = (who: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ who, text: `${who} line ${i} ${'x'.repeat(i % 40)}` }))
    for (const record of talk('bob', 200)) await log.append([record])
    // Large enough to be encoded in several steps, so that the appends land while it is encoded.
    const first = log.rewrite([...talk('bob', 3000), { text: 'own' }])
    const between = log.append(talk('carol', 5))
    const second = log.rewrite(talk('dave', 2500))
    const after = log.append(talk('erin', 3))
    await Promise.all([first, between, second, after])
    const live = counts(log)
    // The second rewrite replaced all before it, carol's append included; erin's came after it.
    expect([...live.accounts.keys()].sort()).toEqual(['dave', 'erin'])
    await log.close()
    const again = await open()
    await again.close()
    expect(again.records.slice(0, 2500)).toEqual(talk('dave', 2500))
    expect(counts(again)).toEqual(live)
  })

  it('puts the old counts back when a rewrite fails and the old log stays', async () => {
    const log = await open()
    await log.append([{ who: 'a', text: 'x'.repeat(100) }])
    const before = counts(log)
    // A directory where the temporary file goes makes the rewrite fail before anything changes.
    const { mkdir } = await import('node:fs/promises')
    await mkdir(`${path}.rewrite`)
    await mkdir(join(`${path}.rewrite`, 'busy'))
    await expect(log.rewrite([{ who: 'a', text: 'short' }])).rejects.toMatchObject({ code: 'IO' })
    expect(counts(log)).toEqual(before)
    await log.close()
  })

  it('matches a count made from scratch for any appends, before and after a reopen (property)', async () => {
    const who = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined })
    const record = fc.record(
      { who, text: fc.string({ unit: 'binary', maxLength: 40 }) },
      { requiredKeys: ['text'] },
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(record, { minLength: 1, maxLength: 4 }), { maxLength: 12 }),
        async (appends) => {
          await rm(path, { force: true })
          const log = await open()
          for (const records of appends) await log.append(records)
          await log.close()
          // Each append is one frame: the records of one party alone count the whole frame, mixed ones split it.
          const expected = new Map<string, number>()
          for (const records of appends) {
            const frame = 8 + Buffer.byteLength(JSON.stringify(records))
            const parties = new Set(records.map((r) => r.who))
            if (parties.size === 1) {
              const only = records[0]!.who ?? '(own)'
              expected.set(only, (expected.get(only) ?? 0) + frame)
              continue
            }
            let rest = frame
            for (let i = records.length - 1; i >= 0; i--) {
              const bytes = i === 0 ? rest : Buffer.byteLength(JSON.stringify(records[i])) + 1
              rest -= bytes
              const party = records[i]!.who ?? '(own)'
              expected.set(party, (expected.get(party) ?? 0) + bytes)
            }
          }
          const mine = expected.get('(own)') ?? 0
          expected.delete('(own)')
          // Nothing is lost or counted twice: the parties and the node's own records make up the file.
          let counted = mine
          for (const bytes of expected.values()) counted += bytes
          expect(counted).toBe(log.plainSize - LOG_HEADER.length)
          for (const [party, bytes] of expected) if (bytes === 0) expected.delete(party)
          expect(log.usage.accounts()).toEqual(expected)
          const again = await open()
          await again.close()
          expect(again.usage.accounts()).toEqual(expected)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('counts frames stored compressed as a reopen counts them, stored plain (property)', async () => {
    const who = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined })
    // Long, repetitive text: most frames are stored compressed; random text, hardly or not at all.
    const text = fc.oneof(
      fc.tuple(fc.string({ maxLength: 8 }), fc.nat(200)).map(([word, n]) => word.repeat(n)),
      fc.string({ unit: 'binary', maxLength: 300 }),
    )
    const record = fc.record({ who, text }, { requiredKeys: ['text'] })
    let compressed = 0
    await fc.assert(
      fc.asyncProperty(
        // Appends made together share a flush; a rewrite may come between them.
        fc.array(
          fc.record({
            together: fc.array(fc.array(record, { minLength: 1, maxLength: 3 }), {
              minLength: 1,
              maxLength: 4,
            }),
            rewrite: fc.boolean(),
          }),
          { maxLength: 8 },
        ),
        async (steps) => {
          await rm(path, { force: true })
          const log = await open()
          for (const step of steps) {
            const work: Promise<unknown>[] = step.together.map((records) => log.append(records))
            if (step.rewrite) work.push(log.rewrite(step.together.flat()))
            await Promise.all(work)
          }
          const live = log.usage.accounts()
          const plain = log.plainSize
          await log.close()
          const size = (await stat(path)).size
          if (size < plain) compressed++
          const again = await open()
          await again.close()
          expect(live).toEqual(again.usage.accounts())
          expect(again.plainSize).toBe(plain)
        },
      ),
      { numRuns: 60 },
    )
    expect(compressed).toBeGreaterThan(10)
  })
})
