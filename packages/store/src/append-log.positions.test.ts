/**
 * Where frames are: each append resolves with its frame's position, and a rewrite with where it put the
 * records it was given and the appends it carried over, so a reader can read chosen frames again
 * (`readFrames`) without scanning the file.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AppendLog, type FramePosition } from './append-log.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-store-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A chat-like record; long ones make a frame the log compresses. */
const record = (i: number, size = 60) => ({ t: 'msg', i, body: `${i} `.padEnd(size, 'abcdefgh'[i % 8]) })

describe('frame positions', () => {
  it('resolves each append with its own frame, small and large, flushed together alike', async () => {
    const log = await AppendLog.open(join(dir, 'log'))
    const batches = [
      [record(1)],
      Array.from({ length: 200 }, (_, i) => record(100 + i, 120)),
      [record(2), record(3)],
    ]
    // Issued together: one flush writes all three frames.
    const positions = await Promise.all(batches.map((records) => log.append(records)))
    expect(positions.every((p) => p !== undefined)).toBe(true)
    const at = positions as FramePosition[]
    expect(at[0]?.offset).toBeLessThan(at[1]?.offset as number)
    // Each frame is its JSON and the 8-byte header, stored plain (a rewrite compresses).
    at.forEach((position, i) => {
      expect(position.bytes).toBe(8 + JSON.stringify(batches[i]).length)
    })
    expect(
      await log.readFrames([at[2] as FramePosition, at[0] as FramePosition, at[1] as FramePosition]),
    ).toEqual([batches[2], batches[0], batches[1]])
    expect(await log.append([])).toBeUndefined()
    await log.close()
  })

  it('says where a rewrite put its records and the appends made while it ran', async () => {
    const log = await AppendLog.open(join(dir, 'log'))
    await log.append([record(0)])
    const kept = Array.from({ length: 3_000 }, (_, i) => record(i, 100))
    const rewriting = log.rewrite(kept)
    // Made after the call: flushed to the old file while the new one is written (the rewrite encodes its
    // records over several turns), then carried over; a turn apart, so that they are two flushes.
    const during = [[record(5_001)], Array.from({ length: 100 }, (_, i) => record(6_000 + i, 100))]
    const first = log.append(during[0] as unknown[])
    await new Promise((resolve) => setImmediate(resolve))
    const duringAt = await Promise.all([first, log.append(during[1] as unknown[])])
    const layout = await rewriting
    expect(layout.frames.reduce((sum, frame) => sum + frame.records, 0)).toBe(kept.length)
    const read = await log.readFrames(layout.frames.map((frame) => frame.frame))
    expect(read.flat()).toEqual(kept)
    read.forEach((records, i) => {
      expect(records.length).toBe(layout.frames[i]?.records)
    })
    // Both were flushed before the new file took over: their new places are given.
    const movedTo = duringAt.map((at) => layout.moved.get(at as FramePosition))
    expect(movedTo.every((p) => p !== undefined)).toBe(true)
    expect(await log.readFrames(movedTo as FramePosition[])).toEqual(during)
    // An append after the rewrite lands in the new file, after the carried ones.
    const after = [record(7_000)]
    const afterAt = (await log.append(after)) as FramePosition
    expect(afterAt.offset).toBeGreaterThan((movedTo[1] as FramePosition).offset)
    expect(await log.readFrames([afterAt])).toEqual([after])
    await log.close()
    // Reopened, the file holds exactly that, in that order.
    const reopened = await AppendLog.open(join(dir, 'log'))
    expect(reopened.records).toEqual([...kept, ...during.flat(), ...after])
    await reopened.close()
  })
})
