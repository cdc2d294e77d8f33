/**
 * Start-up from a journal read frame by frame, skimmed where it can be, and read again only where the
 * state rests on it: the same state as replaying every record, over random journals cut into random frames.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { command, journalOf, self } from '../test/journal-arbitraries.js'
import { type JournalRecord, restore } from './journal.js'
import { skimFrame } from './journal-skim.js'
import { JournalStartup } from './journal-startup.js'

/** The journal's records in frames of the given sizes (the last frame takes the rest), as JSON text. */
function framesOf(records: readonly JournalRecord[], sizes: readonly number[]): string[] {
  const frames: string[] = []
  let at = 0
  for (const size of sizes) {
    if (at >= records.length) break
    frames.push(JSON.stringify(records.slice(at, at + size)))
    at += size
  }
  if (at < records.length) frames.push(JSON.stringify(records.slice(at)))
  return frames
}

async function startFrom(frames: readonly string[], historyLimit: number, windowSize: number) {
  const startup = new JournalStartup<number>(self, historyLimit, windowSize)
  frames.forEach((text, n) => {
    startup.add(skimFrame(text) ?? JSON.parse(text), n)
  })
  const loaded: number[] = []
  const start = await startup.finish(async (wanted) => {
    loaded.push(...wanted)
    return wanted.map((n) => JSON.parse(frames[n] as string) as unknown[])
  })
  return { start, loaded }
}

describe('start-up from a journal read frame by frame', () => {
  it('restores exactly the state the whole journal restores, reading again only frames it needs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { maxLength: 150 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 60 }),
        fc.nat(6),
        fc.nat(4),
        async (commands, sizes, historyLimit, windowSize) => {
          const records = journalOf(commands)
          const frames = framesOf(records, sizes)
          const { start, loaded } = await startFrom(frames, historyLimit, windowSize)
          expect(start).toBeDefined()
          const whole = restore(records, self, historyLimit, windowSize)
          expect(start?.state).toStrictEqual(whole)
          expect([...(start?.state.peers.keys() ?? [])]).toEqual([...whole.peers.keys()])
          expect(restore(start?.records ?? [], self, historyLimit, windowSize)).toStrictEqual(whole)
          expect(start?.total).toBe(records.length)
          // Each frame is read again at most once, in order.
          expect(loaded).toEqual([...new Set(loaded)].sort((a, b) => a - b))
        },
      ),
      { numRuns: 2_000, seed: 20_261_202 },
    )
  })
})
