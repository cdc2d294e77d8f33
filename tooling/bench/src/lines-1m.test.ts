import { describe, expect, it } from 'vitest'
import { type GrowthRun, growthTargets } from './lines-1m.js'

/** A run of `lines` whose ends' event loops stood still at most `sender` and `receiver` ms. */
function run(lines: number, sender: number | undefined, receiver: number | undefined): GrowthRun {
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
      ...(sender === undefined ? {} : { sender: { maxMs: sender, over50ms: 0 } }),
      ...(receiver === undefined ? {} : { receiver: { maxMs: receiver, over50ms: 0 } }),
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
})
