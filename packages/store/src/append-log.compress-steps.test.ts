/**
 * A rewrite's frames are compressed on the caller's thread, a few at a time, with the event loop let in
 * between: `brotliCompressSync` is wrapped to note the turn each call runs in.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const calls: number[] = []
let turn = 0

vi.mock('./zlib.js', async () => {
  const zlib = await import('node:zlib')
  const wrapped = {
    ...zlib,
    brotliCompressSync: (...args: Parameters<typeof zlib.brotliCompressSync>) => {
      calls.push(turn)
      return zlib.brotliCompressSync(...args)
    },
  }
  return { zlib: () => wrapped }
})

const { AppendLog } = await import('./append-log.js')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-store-'))
  calls.length = 0
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Counts turns of the event loop (one per check phase) until stopped. */
function countTurns(): () => void {
  let counting = true
  const next = () => {
    turn++
    if (counting) setImmediate(next)
  }
  setImmediate(next)
  return () => {
    counting = false
  }
}

describe('AppendLog compression', () => {
  it("compresses a rewrite's frames over many turns, and the log reopens with every record", async () => {
    const path = join(dir, 'journal.log')
    const log = await AppendLog.open(path, { onWarning: () => {} })
    // 2,560 records of about 2 KB: 40 frames of 64 records, about 5 MB to compress.
    const records = Array.from({ length: 2_560 }, (_, n) => ({
      t: 'received',
      n,
      body: `line ${n} of a long flood of words `.repeat(60),
    }))
    const stop = countTurns()
    await log.rewrite(records)
    stop()
    expect(calls.length).toBe(40)
    // About 256 KiB of JSON per turn: two frames of 128 KB each.
    expect(new Set(calls).size).toBeGreaterThanOrEqual(16)
    expect(log.size).toBeLessThan(log.plainSize / 4)
    await log.close()
    const again = await AppendLog.open(path, { onWarning: () => {} })
    await again.close()
    expect(again.records).toEqual(records)
  })

  it('stores an append plain however well it compresses, and the next rewrite compresses it', async () => {
    const path = join(dir, 'journal.log')
    const log = await AppendLog.open(path, { onWarning: () => {} })
    // A flood of small records in one append: what compresses best.
    const huge = Array.from({ length: 2_000 }, () => ({
      t: 'received',
      body: 'a flood of words '.repeat(10),
    }))
    await log.append(huge)
    expect(calls.length).toBe(0)
    expect(log.size).toBe(log.plainSize)
    await log.rewrite(huge)
    // One compression per frame of 64 records.
    expect(calls.length).toBe(Math.ceil(huge.length / 64))
    expect(log.size).toBeLessThan(log.plainSize / 10)
    await log.append(huge.slice(0, 500))
    expect(calls.length).toBe(Math.ceil(huge.length / 64))
    await log.close()
    const again = await AppendLog.open(path, { onWarning: () => {} })
    await again.close()
    expect(again.records).toEqual([...huge, ...huge.slice(0, 500)])
  })
})
