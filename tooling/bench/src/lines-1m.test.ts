import { describe, expect, it } from 'vitest'
import { type GrowthRun, growthTargets, liveGrowth } from './lines-1m.js'

const MIB = 1024 * 1024

/**
 * A run of `lines` whose ends' event loops stood still at most `sender` and `receiver` ms, and whose ends'
 * old generations measured `live` after forced full collections (none: no --live-heap).
 */
function run(
  lines: number,
  sender: number | undefined,
  receiver: number | undefined,
  live: { sender?: number[]; receiver?: number[] } = {},
): GrowthRun {
  const kept = { messages: 0, textBytes: 0 }
  return {
    lines,
    seconds: lines / 50_000,
    linesPerSec: 50_000,
    senderPeakKiB: 0,
    receiverPeakKiB: 0,
    marks: [],
    journal: { sender: 0, receiver: 0, senderDir: 0, receiverDir: 0 },
    kept: { sender: kept, receiver: kept },
    textBytes: 0,
    compactions: { sender: 0, receiver: 0 },
    loop: {
      ...(sender === undefined
        ? {}
        : { sender: { maxMs: sender, over50ms: 0, afterFullGcBytes: live.sender ?? [] } }),
      ...(receiver === undefined
        ? {}
        : { receiver: { maxMs: receiver, over50ms: 0, afterFullGcBytes: live.receiver ?? [] } }),
    },
  }
}

const stallRow = (runs: GrowthRun[]) =>
  growthTargets({ sizes: runs.map((r) => r.lines), block: 100_000, runs }).find((t) =>
    t.figure.startsWith('receiver longest event-loop stall'),
  )

describe('growthTargets', () => {
  it("holds the receiver's longest event-loop stall of any run to 100 ms, and names the sender's", () => {
    expect(stallRow([run(100_000, 120, 40), run(300_000, 90, 65)])).toMatchObject({
      value: 65,
      met: true,
      detail: 'sender 120 ms',
    })
    expect(stallRow([run(100_000, 20, 30), run(300_000, 20, 140)])).toMatchObject({ value: 140, met: false })
    // No figure (the ends ran without the loop monitor): nothing is claimed.
    expect(stallRow([run(100_000, undefined, undefined)])).toMatchObject({ value: undefined, met: undefined })
  })

  it('compares the least old generation after forced collections, last third against middle, when measured', () => {
    const rows = (runs: GrowthRun[]) =>
      growthTargets({ sizes: runs.map((r) => r.lines), block: 100_000, runs }).filter((t) =>
        t.figure.includes('old generation'),
      )
    // Without --live-heap there is nothing to say: no row.
    expect(rows([run(100_000, 10, 10), run(1_000_000, 10, 10)])).toEqual([])
    // Compactions and batches lift single samples; the least of each third is what stays.
    const flat = [6, 9, 12, 10, 16, 10, 18, 10, 11].map((m) => m * MIB)
    const growing = [6, 10, 11, 13, 15, 17, 19, 21, 23].map((m) => m * MIB)
    const [sender, receiver] = rows([
      run(100_000, 10, 10),
      run(1_000_000, 10, 10, { sender: flat, receiver: growing }),
    ])
    expect(sender).toMatchObject({ met: true, detail: '10.0 → 10.0 MiB, at most 18.0 MiB over 9 GCs' })
    expect(sender?.figure).toMatch(/^sender old generation/)
    expect(sender?.value).toBeCloseTo(1)
    expect(receiver).toMatchObject({ met: false, detail: '13.0 → 19.0 MiB, at most 23.0 MiB over 9 GCs' })
    expect(receiver?.value).toBeCloseTo(19 / 13)
  })
})

describe('liveGrowth', () => {
  it('needs three samples, and compares the least of the last third with the least of the middle one', () => {
    expect(liveGrowth(undefined)).toBeUndefined()
    expect(liveGrowth([1, 2])).toBeUndefined()
    expect(liveGrowth([1, 4, 8])).toEqual({ ratio: 2, middle: 4, last: 8, max: 8, count: 3 })
    // The first third (start-up) does not count; a peak in the middle third does not hide growth.
    expect(liveGrowth([1, 1, 5, 20, 5, 6, 7, 6])?.ratio).toBeCloseTo(6 / 5)
  })
})
