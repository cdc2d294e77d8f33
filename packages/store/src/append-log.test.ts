import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AppendLog, type FramePosition } from './append-log.js'
import { LogError } from './errors.js'
import { encodeFrame, LOG_HEADER, LOG_HEADER_V2 } from './log-format.js'

let dir: string
let path: string
const warnings: string[] = []
const onWarning = (message: string) => warnings.push(message)
const open = (options = {}) => AppendLog.open(path, { onWarning, ...options })

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-store-'))
  path = join(dir, 'journal.log')
  warnings.length = 0
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Counts turns of the event loop (one per check phase) until stopped: work done in one go sees one. */
function countTurns(): { now: () => number; stop: () => void } {
  let turn = 0
  let counting = true
  const next = () => {
    turn++
    if (counting) setImmediate(next)
  }
  setImmediate(next)
  return {
    now: () => turn,
    stop: () => {
      counting = false
    },
  }
}

async function reopen(): Promise<unknown[]> {
  const log = await open()
  await log.close()
  return log.records
}

describe('AppendLog', () => {
  it('creates a log holding only its header, and replays appends in order after a reopen', async () => {
    const log = await open()
    expect(log.records).toEqual([])
    expect(log.size).toBe(LOG_HEADER.length)
    await log.append([{ n: 1 }, { n: 2 }])
    await log.append(['three'])
    await log.close()
    expect(await reopen()).toEqual([{ n: 1 }, { n: 2 }, 'three'])
    expect(warnings).toEqual([])
    expect((await stat(path)).size).toBe(log.size)
  })

  it('lets go of the records read at open, and keeps appending', async () => {
    const log = await open()
    await log.append([1, 2])
    await log.close()
    const again = await open()
    expect(again.records).toEqual([1, 2])
    again.forgetRecords()
    expect(again.records).toEqual([])
    await again.append([3])
    await again.close()
    expect(await reopen()).toEqual([1, 2, 3])
  })

  it('reads back a log longer than it reads at a time: frames across every chunk edge, one longer than a chunk', async () => {
    // Reads go 4 MiB at a time: odd-sized appends land across the edges, and a 5 MB one spans two chunks.
    // Appends issued together are still one frame each (one flush writes them all).
    const log = await open()
    const expected: unknown[] = []
    const appends: Promise<unknown>[] = []
    for (let i = 0; i < 3_000; i++) {
      const record = { i, text: 'x'.repeat(1_000 + (i % 97)) }
      expected.push(record)
      appends.push(log.append([record]))
      if (i === 1_500) {
        const long = 'y'.repeat(5_000_000)
        expected.push(long)
        appends.push(log.append([long]))
      }
    }
    await Promise.all(appends)
    await log.close()
    expect(await reopen()).toEqual(expected)
    expect(warnings).toEqual([])
  })

  it('keeps every frame before a damaged one deep in a long log', async () => {
    const log = await open()
    await Promise.all(Array.from({ length: 6_000 }, (_, i) => log.append([{ i, text: 'z'.repeat(1_000) }])))
    await log.close()
    const bytes = await readFile(path)
    // A byte of the frame of record 5,000 (each append is one frame), in the second chunk of a read: that
    // frame and the rest are dropped.
    let at = LOG_HEADER.length
    for (let frame = 0; frame < 5_000; frame++) at += 8 + (bytes.readUInt32BE(at) & 0x7fff_ffff)
    bytes.writeUInt8(bytes.readUInt8(at + 12) ^ 0x41, at + 12)
    await writeFile(path, bytes)
    const records = await reopen()
    expect(records).toHaveLength(5_000)
    expect(records.at(-1)).toMatchObject({ i: 4_999 })
    // Good frames follow the damage, so it is no torn write: the log as it was is kept beside it.
    expect(warnings).toEqual([
      expect.stringContaining(
        `(checksum mismatch), damage in the middle of the log, not a write torn by a crash; every earlier record is intact, and the log as it was, with the records after the damage, is kept in ${path}.damaged-1`,
      ),
    ])
    // Compared as bytes: a deep equality over megabytes takes many seconds.
    expect((await readFile(`${path}.damaged-1`)).equals(bytes)).toBe(true)
    expect((await stat(`${path}.damaged-1`)).mode & 0o777).toBe(0o600)
  })

  it('keeps a second copy beside the first when damage in the middle is found again', async () => {
    const log = await open()
    for (let i = 0; i < 3; i++) await log.append([{ i }])
    await log.close()
    const good = await readFile(path)
    const second = LOG_HEADER_V2.length + (8 + good.readUInt32BE(LOG_HEADER_V2.length))
    const damaged = Buffer.from(good)
    damaged.writeUInt8(damaged.readUInt8(second + 9) ^ 0x01, second + 9)
    await writeFile(path, damaged)
    expect(await reopen()).toEqual([{ i: 0 }])
    await writeFile(path, damaged)
    expect(await reopen()).toEqual([{ i: 0 }])
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toContain(`kept in ${path}.damaged-1`)
    expect(warnings[1]).toContain(`kept in ${path}.damaged-2`)
    expect(await readFile(`${path}.damaged-1`)).toEqual(damaged)
    expect(await readFile(`${path}.damaged-2`)).toEqual(damaged)
  })

  it('calls a torn frame followed only by zeros a torn write, and keeps no copy', async () => {
    const log = await open()
    for (let i = 0; i < 3; i++) await log.append([{ i }])
    await log.close()
    const bytes = await readFile(path)
    const last = bytes.length - (8 + JSON.stringify([{ i: 2 }]).length)
    bytes.writeUInt8(bytes.readUInt8(last + 9) ^ 0x01, last + 9)
    await writeFile(path, Buffer.concat([bytes, Buffer.alloc(8192)]))
    expect(await reopen()).toEqual([{ i: 0 }, { i: 1 }])
    expect(warnings).toEqual([
      expect.stringContaining('a write torn by a crash; every earlier record is intact'),
    ])
    await expect(stat(`${path}.damaged-1`)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('hands each frame to onRecords without keeping it, skimmed where it can be, and reads chosen frames again whole', async () => {
    const log = await open()
    await log.append([{ n: 1 }, { n: 2 }])
    await log.append([{ skip: true }])
    await log.append(['three'])
    await log.close()
    const seen: { records: readonly unknown[]; frame: FramePosition }[] = []
    const again = await open({
      onRecords: (records: readonly unknown[], frame: FramePosition) => seen.push({ records, frame }),
      skim: (text: string) => (text.includes('skip') ? ['skimmed'] : undefined),
    })
    expect(again.records).toEqual([])
    expect(seen.map((s) => s.records)).toEqual([[{ n: 1 }, { n: 2 }], ['skimmed'], ['three']])
    const [first, second, third] = seen.map((s) => s.frame) as FramePosition[]
    expect(first?.offset).toBe(LOG_HEADER.length)
    expect(third?.offset).toBe((second?.offset ?? 0) + (second?.bytes ?? 0))
    expect(await again.readFrames([second as FramePosition, third as FramePosition])).toEqual([
      [{ skip: true }],
      ['three'],
    ])
    await again.append([4])
    await again.close()
    expect(await reopen()).toEqual([{ n: 1 }, { n: 2 }, { skip: true }, 'three', 4])
  })

  it('opens a version 1 log as the earlier release wrote it, appends to it, and rewrites it as version 2', async () => {
    // Byte for byte what a release reading version 1 only wrote: appends, then a rewrite's frames of 64.
    const old = Array.from({ length: 200 }, (_, i) => ({
      t: 'received',
      n: i,
      body: `line ${i} of the old log`,
    }))
    const v1 = [LOG_HEADER, encodeFrame(old.slice(0, 3), 1 << 20)]
    for (let i = 3; i < old.length; i += 64) v1.push(encodeFrame(old.slice(i, i + 64), 1 << 20))
    const v1Bytes = Buffer.concat(v1)
    await writeFile(path, v1Bytes)
    const log = await open()
    expect(log.records).toEqual(old)
    expect(log.size).toBe(v1Bytes.length)
    expect(log.plainSize).toBe(v1Bytes.length)
    await log.append([{ t: 'sent', n: 200, body: 'again '.repeat(100) }])
    // Appended to as it is, plain however well it would compress: still version 1, readable by the
    // release that wrote it.
    expect((await readFile(path)).subarray(0, LOG_HEADER.length)).toEqual(LOG_HEADER)
    expect(log.size).toBe(log.plainSize)
    const kept = [...old.slice(100), { t: 'sent', n: 200, body: 'again '.repeat(100) }]
    const rewriting = log.rewrite(kept)
    const late = log.append([{ t: 'sent', n: 201 }])
    await Promise.all([rewriting, late])
    const plain = log.plainSize
    await log.close()
    const bytes = await readFile(path)
    expect(bytes.subarray(0, LOG_HEADER_V2.length)).toEqual(LOG_HEADER_V2)
    expect(bytes.length).toBeLessThan(plain / 2)
    expect(warnings).toEqual([])
    const again = await open()
    await again.close()
    expect(again.records).toEqual([...kept, { t: 'sent', n: 201 }])
    expect(again.size).toBe(bytes.length)
    expect(again.plainSize).toBe(plain)
  })

  it('starts a new log at version 2, stores appends plain, and compresses them when it rewrites', async () => {
    const log = await open()
    const line = (words: string, times: number) => ({ t: 'received', body: words.repeat(times) })
    const long = Array.from({ length: 30 }, () => line('a line of chat that repeats itself ', 5))
    const short = [line('hi', 1)]
    const huge = Array.from({ length: 600 }, () => line('a flood of words ', 17))
    await log.append(long)
    await Promise.all([log.append(short), log.append(huge)])
    const appended = [long, short, huge]
    expect(log.plainSize).toBe(
      LOG_HEADER_V2.length + appended.reduce((n, r) => n + 8 + JSON.stringify(r).length, 0),
    )
    expect(log.size).toBe(log.plainSize)
    let bytes = await readFile(path)
    expect(bytes.subarray(0, LOG_HEADER_V2.length)).toEqual(LOG_HEADER_V2)
    // Each append is its JSON as it is, unflagged, readable as it is.
    expect(frameFlags(bytes)).toEqual([false, false, false])
    for (const records of appended) expect(bytes.includes(JSON.stringify(records))).toBe(true)
    const all = [...long, ...short, ...huge]
    await log.rewrite(all)
    const late = [line('after the rewrite, plain again ', 200)]
    await log.append(late)
    expect(log.size).toBeLessThan(log.plainSize / 2)
    await log.close()
    bytes = await readFile(path)
    expect(bytes.length).toBe(log.size)
    const flags = frameFlags(bytes)
    expect(flags.slice(0, -1).every((compressed) => compressed)).toBe(true)
    expect(flags.at(-1)).toBe(false)
    expect(bytes.includes(JSON.stringify(late))).toBe(true)
    const again = await open()
    await again.close()
    expect(again.records).toEqual([...all, ...late])
    expect(again.plainSize).toBe(log.plainSize)
  })

  it('reads compressed frames again by position, and hands them to onRecords skimmed', async () => {
    const log = await open()
    const records = Array.from({ length: 100 }, (_, i) => ({ n: i, text: 'the same words again and again' }))
    await log.rewrite(records)
    await log.close()
    const seen: { records: readonly unknown[]; frame: FramePosition }[] = []
    const again = await open({
      onRecords: (frameRecords: readonly unknown[], frame: FramePosition) =>
        seen.push({ records: frameRecords, frame }),
      skim: (text: string) => (text.includes('"n":99') ? ['skimmed'] : undefined),
    })
    expect(seen.map((s) => s.records)).toEqual([records.slice(0, 64), ['skimmed']])
    expect(await again.readFrames(seen.map((s) => s.frame))).toEqual([
      records.slice(0, 64),
      records.slice(64),
    ])
    const read: (readonly unknown[])[] = []
    await again.readAll({ onRecords: (frameRecords) => read.push(frameRecords) })
    expect(read).toEqual([records.slice(0, 64), records.slice(64)])
    await again.close()
  })

  it("encodes appends with the caller's encoder, and rewrites with JSON.stringify", async () => {
    const seen: unknown[][] = []
    // Any JSON of the records will do: this one indents.
    const encode = (records: readonly unknown[]) => {
      seen.push([...records])
      return JSON.stringify(records, null, 1)
    }
    const log = await open({ encode })
    const first = [{ t: 'sent', n: 1 }]
    const second = [
      { t: 'received', n: 2 },
      { t: 'acked', n: 3 },
    ]
    await Promise.all([log.append(first), log.append(second), log.append([])])
    expect(seen).toEqual([first, second])
    expect((await readFile(path)).includes(JSON.stringify(second, null, 1))).toBe(true)
    await log.rewrite([...first, ...second])
    expect(seen).toHaveLength(2)
    await log.append([{ t: 'sent', n: 4 }])
    expect(seen).toHaveLength(3)
    await log.close()
    const again = await open()
    await again.close()
    expect(again.records).toEqual([...first, ...second, { t: 'sent', n: 4 }])
  })

  it('fails the open with what onRecords throws, as it is', async () => {
    const log = await open()
    await log.append([1])
    await log.close()
    const refusal = new RangeError('not a record')
    await expect(
      open({
        onRecords: () => {
          throw refusal
        },
      }),
    ).rejects.toBe(refusal)
  })

  it('writes appends issued together with one flush, not one fsync each', async () => {
    const log = await open()
    const appends = Array.from({ length: 1000 }, (_, i) => log.append([i]))
    await Promise.all(appends)
    expect(log.stats).toMatchObject({ appends: 1000, records: 1000, flushes: 1 })
    await log.close()
    expect(await reopen()).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })

  it('gathers appends made during a flush into the next one', async () => {
    const log = await open()
    let issued = 0
    // 20 writers, each appending as soon as its previous append is durable.
    const writer = async () => {
      for (let i = 0; i < 50; i++) await log.append([issued++])
    }
    await Promise.all(Array.from({ length: 20 }, writer))
    const { appends, flushes } = log.stats
    expect(appends).toBe(1000)
    expect(flushes).toBeLessThan(200)
    await log.close()
    expect(await reopen()).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })

  it('fsyncs once per append when each append waits for the previous one', async () => {
    const log = await open()
    for (let i = 0; i < 5; i++) await log.append([i])
    expect(log.stats.flushes).toBe(5)
    await log.close()
  })

  it('resolves an empty append once earlier appends are durable, without writing', async () => {
    const log = await open()
    const first = log.append(['a'])
    let firstDone = false
    void first.then(() => {
      firstDone = true
    })
    await log.append([])
    expect(firstDone).toBe(true)
    await log.append([])
    expect(log.stats.flushes).toBe(1)
    await log.close()
  })

  it('refuses records JSON cannot encode without disturbing the appends around them', async () => {
    const log = await open()
    const before = log.append(['before'])
    const bad = log.append(['ok', 10n])
    const after = log.append(['after'])
    await expect(bad).rejects.toMatchObject({ name: 'LogError', code: 'NOT_JSON' })
    await Promise.all([before, after])
    await log.close()
    expect(await reopen()).toEqual(['before', 'after'])
  })

  it('refuses an append larger than maxRecordBytes, yet reads larger records written with a higher limit', async () => {
    const big = 'x'.repeat(200)
    const generous = await open()
    await generous.append([big])
    await generous.close()
    const strict = await open({ maxRecordBytes: 100 })
    expect(strict.records).toEqual([big])
    await expect(strict.append([big])).rejects.toMatchObject({ code: 'TOO_LARGE' })
    await strict.close()
    expect(warnings).toEqual([])
  })

  it('creates the log readable by its owner only', async () => {
    await (await open()).close()
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('reads back every record appended before readAll, durable first, and none appended after it', async () => {
    const log = await open()
    await log.append([{ n: 1 }])
    // Still in flight when the read is asked for: it is read back once durable.
    const inFlight = log.append([{ n: 2 }, { n: 3 }])
    const read = log.readAll()
    const later = log.append([{ n: 4 }])
    expect(await read).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    await Promise.all([inFlight, later])
    expect(await log.readAll()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])
    // After a rewrite, the new file: the rewritten records, then what was appended since.
    const rewritten = log.rewrite(['compacted'])
    const after = log.append([{ n: 5 }])
    await Promise.all([rewritten, after])
    expect(await log.readAll()).toEqual(['compacted', { n: 5 }])
    await log.close()
    await expect(log.readAll()).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('hands readAll frames to onRecords as it reads, keeping none, and reads chosen ones again whole', async () => {
    const log = await open()
    await log.append([{ n: 1, body: 'one' }])
    await log.append([
      { n: 2, body: 'two' },
      { n: 3, body: 'three' },
    ])
    const seen: { records: readonly unknown[]; frame: FramePosition }[] = []
    const kept = await log.readAll({
      onRecords: (records, frame) => seen.push({ records, frame }),
      // The skim keeps only `n`, as a start-up's keeps only what a replay reads.
      skim: (text) => (JSON.parse(text) as { n: number }[]).map(({ n }) => ({ n })),
    })
    expect(kept).toEqual([])
    expect(seen.map((s) => s.records)).toEqual([[{ n: 1 }], [{ n: 2 }, { n: 3 }]])
    expect(await log.readFrames([seen[1]!.frame])).toEqual([
      [
        { n: 2, body: 'two' },
        { n: 3, body: 'three' },
      ],
    ])
    // What onRecords throws fails the read as it is.
    const refusal = new Error('not this one')
    await expect(
      log.readAll({
        onRecords: () => {
          throw refusal
        },
      }),
    ).rejects.toBe(refusal)
    await log.close()
  })

  it('lets other work run between parts of a long readAll, as a compaction of a busy node reads', async () => {
    const log = await open()
    // About 2 MiB of frames that do not compress: eight or more of readAll's reads.
    const noise = () => randomBytes(3 * 1024).toString('base64')
    for (let batch = 0; batch < 16; batch++)
      await log.append(Array.from({ length: 50 }, (_, i) => ({ n: batch * 50 + i, body: noise() })))
    expect(log.size).toBeGreaterThan(2 * 1024 * 1024)
    // Frames read in one go all see the same turn.
    const turns = countTurns()
    const ticksSeen = new Set<number>()
    let frames = 0
    await log.readAll({
      onRecords: () => {
        frames++
        ticksSeen.add(turns.now())
      },
    })
    turns.stop()
    expect(frames).toBe(16)
    expect(ticksSeen.size).toBeGreaterThanOrEqual(8)
    await log.close()
  })
  it('rejects readAll with an IO error naming the path when the file changed under it', async () => {
    const log = await open()
    await log.append([{ n: 1 }, { n: 2 }])
    await truncate(path, log.size - 3)
    await expect(log.readAll()).rejects.toMatchObject({ code: 'IO', message: expect.stringContaining(path) })
    await log.close()
  })

  it('flushes what was appended before close and refuses appends after it', async () => {
    const log = await open()
    const pending = log.append(['last'])
    const closed = log.close()
    await expect(log.append(['late'])).rejects.toMatchObject({ code: 'CLOSED' })
    await Promise.all([pending, closed])
    await log.close()
    expect(await reopen()).toEqual(['last'])
  })

  describe('after a crash', () => {
    const earlier = [
      { n: 1, body: 'first' },
      { n: 2, body: 'second' },
      { n: 3, body: 'third, with ünïcödé' },
    ]
    const last = { n: 4, body: 'the last one, torn' }

    async function writeLog(): Promise<{ lastStart: number; end: number }> {
      const log = await open()
      for (const record of earlier) await log.append([record])
      const lastStart = log.size
      await log.append([last])
      await log.close()
      return { lastStart, end: log.size }
    }

    it('keeps every earlier record when the file is cut at any byte of the last one, and appends again', async () => {
      const { lastStart, end } = await writeLog()
      const original = await readFile(path)
      for (let cut = lastStart; cut < end; cut++) {
        await writeFile(path, original.subarray(0, cut))
        warnings.length = 0
        const log = await open()
        expect(log.records, `cut at ${cut}`).toEqual(earlier)
        if (cut === lastStart) {
          expect(warnings).toEqual([])
        } else {
          expect(warnings).toHaveLength(1)
          expect(warnings[0]).toContain(`dropped ${cut - lastStart} bytes at offset ${lastStart}`)
        }
        expect(log.size).toBe(lastStart)
        await log.append([{ n: 5, body: 'after the crash' }])
        await log.close()
        expect(await reopen(), `cut at ${cut}, reopened`).toEqual([
          ...earlier,
          { n: 5, body: 'after the crash' },
        ])
      }
    })

    it('drops a last record whose payload was damaged, with a warning', async () => {
      const { lastStart, end } = await writeLog()
      const damaged = await readFile(path)
      const inPayload = lastStart + 8 + 10
      damaged[inPayload] = (damaged[inPayload] as number) ^ 0x01
      await writeFile(path, damaged)
      const log = await open()
      expect(log.records).toEqual(earlier)
      expect(warnings).toEqual([
        expect.stringMatching(
          `dropped ${end - lastStart} bytes at offset ${lastStart} \\(checksum mismatch\\)`,
        ),
      ])
      await log.close()
      expect((await stat(path)).size).toBe(lastStart)
    })

    it('drops a tail of zeros, as a file system may leave after power loss', async () => {
      const { end } = await writeLog()
      await writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(4096)]))
      expect(await reopen()).toEqual([...earlier, last])
      expect(warnings).toEqual([
        expect.stringContaining(`dropped 4096 bytes at offset ${end} (implausible frame length 0)`),
      ])
    })

    it('keeps all or none of the records of one append', async () => {
      const log = await open()
      await log.append(['alone'])
      const start = log.size
      await log.append(['a', 'b', 'c'])
      await log.close()
      for (let cut = start; cut < log.size; cut++) {
        await truncate(path, cut)
        expect(await reopen()).toEqual(['alone'])
      }
    })

    it('starts over a log whose header was cut during creation', async () => {
      await writeFile(path, LOG_HEADER.subarray(0, 4))
      const log = await open()
      expect(log.records).toEqual([])
      expect(warnings).toHaveLength(1)
      await log.append(['fresh'])
      await log.close()
      expect(await reopen()).toEqual(['fresh'])
    })
  })

  it('refuses to open a file that is not a log, and leaves it alone', async () => {
    await writeFile(path, '{"not":"a log"}\n')
    await expect(open()).rejects.toMatchObject({ name: 'LogError', code: 'NOT_A_LOG' })
    expect(await readFile(path, 'utf8')).toBe('{"not":"a log"}\n')
  })

  it('refuses a log of a newer format version, saying which', async () => {
    await writeFile(path, 'parley-log 3\nwhatever')
    const error = await open().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LogError)
    expect(error).toMatchObject({ code: 'VERSION', message: expect.stringContaining('format version 3') })
  })

  it('reports a file it cannot open as an IO error naming the path', async () => {
    await expect(AppendLog.open(dir)).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining(dir),
    })
  })

  describe('rewrite', () => {
    it('replaces the contents, keeps appends made before and after it in order', async () => {
      const log = await open()
      await log.append(['old-1', 'old-2'])
      const before = log.append(['old-3'])
      const rewritten = log.rewrite(['compacted'])
      const after = log.append(['new-1'])
      await Promise.all([before, rewritten, after])
      expect(log.size).toBe((await stat(path)).size)
      await log.close()
      expect(await reopen()).toEqual(['compacted', 'new-1'])
    })

    it('shrinks the file and leaves no temporary file behind', async () => {
      const log = await open()
      await Promise.all(Array.from({ length: 100 }, (_, i) => log.append([{ i, padding: 'x'.repeat(100) }])))
      const grown = log.size
      await log.rewrite([{ summary: 100 }])
      expect(log.size).toBeLessThan(grown / 10)
      await log.close()
      expect(await reopen()).toEqual([{ summary: 100 }])
      await expect(stat(`${path}.rewrite`)).rejects.toMatchObject({ code: 'ENOENT' })
    })

    it('encodes many records in steps, letting other work in between, as a running node compacts', async () => {
      const log = await open()
      // Each record notes the turn it was encoded in.
      const turns = countTurns()
      const ticksSeen = new Set<number>()
      const records = Array.from({ length: 8000 }, (_, n) => ({
        toJSON: () => {
          ticksSeen.add(turns.now())
          return { n }
        },
      }))
      await log.append(['old'])
      await log.rewrite(records)
      turns.stop()
      expect(ticksSeen.size).toBeGreaterThanOrEqual(4)
      await log.close()
      const reopened = await reopen()
      expect(reopened).toHaveLength(8000)
      expect(reopened[7999]).toEqual({ n: 7999 })
    })

    it('leaves the log unchanged and usable when a record of a rewrite in steps cannot be encoded', async () => {
      const log = await open()
      await log.append(['kept'])
      const records: unknown[] = Array.from({ length: 5000 }, (_, n) => ({ n }))
      records.push(1n)
      const rewriting = log.rewrite(records)
      const meanwhile = log.append(['meanwhile'])
      await expect(rewriting).rejects.toMatchObject({ code: 'NOT_JSON' })
      await meanwhile
      await log.append(['still works'])
      await log.close()
      expect(await reopen()).toEqual(['kept', 'meanwhile', 'still works'])
    })

    it('refuses a rewrite that cannot be encoded while an earlier one is still being written', async () => {
      const log = await open()
      await log.append(['old'])
      const first = log.rewrite(Array.from({ length: 3000 }, (_, n) => ({ n })))
      const second = log.rewrite(['fine', 1n])
      await expect(second).rejects.toMatchObject({ code: 'NOT_JSON' })
      await first
      await log.append(['after'])
      await log.close()
      const reopened = await reopen()
      expect(reopened).toHaveLength(3001)
      expect(reopened.at(-1)).toBe('after')
    })

    it('leaves the log unchanged and usable when a record cannot be encoded', async () => {
      const log = await open()
      await log.append(['kept'])
      await expect(log.rewrite(['fine', 1n])).rejects.toMatchObject({ code: 'NOT_JSON' })
      await log.append(['still works'])
      await log.close()
      expect(await reopen()).toEqual(['kept', 'still works'])
    })

    it('ignores a temporary file left by a crash during a rewrite', async () => {
      const log = await open()
      await log.append(['real'])
      await log.close()
      await writeFile(`${path}.rewrite`, 'half a rewrite')
      expect(await reopen()).toEqual(['real'])
      await expect(stat(`${path}.rewrite`)).rejects.toMatchObject({ code: 'ENOENT' })
    })
  })
})

/** Whether each frame of a version 2 log's bytes is flagged compressed, in order. */
function frameFlags(bytes: Buffer): boolean[] {
  const flags: boolean[] = []
  for (let at = LOG_HEADER_V2.length; at < bytes.length; ) {
    const word = bytes.readUInt32BE(at)
    flags.push(word >= 0x8000_0000)
    at += 8 + (word & 0x7fff_ffff)
  }
  return flags
}
