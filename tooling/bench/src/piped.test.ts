import { describe, expect, it } from 'vitest'
import { lineBudget, noiseFloorNote, PIPED_TARGETS, type PipedResult, plainEndsNote } from './piped.js'

const target = PIPED_TARGETS[0]

function result(rows: PipedResult['rows']): PipedResult {
  return { lines: 100_001, bytes: 6_000_060, reps: 3, rows }
}

/** The rows a budget reads: the Node.js pipe, parley and its one-line run, each a median in seconds. */
function timed(node: number, parley: number, oneLine: number): PipedResult {
  return result([
    { key: 'node', label: 'node', lines: 100_001, runs: [], seconds: node },
    { key: 'parley', label: 'parley', lines: 100_001, runs: [], seconds: parley },
    { key: 'parleyOneLine', label: 'parley, 1 line', lines: 1, runs: [], seconds: oneLine },
  ])
}

describe('lineBudget', () => {
  it("splits a target's time into the one-line run's fixed cost and a cost per further line", () => {
    const budget = lineBudget(timed(0.2, 2.75, 0.25), target)
    // 2.5 s over 100,000 further lines; the target (3 × 0.2 s) leaves 0.35 s for them.
    expect(budget?.usedUs).toBeCloseTo(25, 6)
    expect(budget?.allowedUs).toBeCloseTo(3.5, 6)
    expect(budget?.fixedRatio).toBeCloseTo(1.25, 6)
  })

  it('is negative where the fixed cost alone is over the target', () => {
    const budget = lineBudget(timed(0.1, 1, 0.4), target)
    expect(budget?.allowedUs).toBeLessThan(0)
  })

  it('says nothing when a row it needs failed or was skipped', () => {
    const rows: PipedResult['rows'] = [
      { key: 'node', label: 'node', lines: 100_001, runs: [], seconds: 0.2 },
      { key: 'parley', label: 'parley', lines: 100_001, runs: [], seconds: 2.75 },
      { key: 'parleyOneLine', label: 'parley, 1 line', lines: 1, runs: [], error: 'exit 1' },
    ]
    expect(lineBudget(result(rows), target)).toBeUndefined()
    expect(lineBudget(result(rows.filter((r) => r.key !== 'node')), target)).toBeUndefined()
  })
})

describe('plainEndsNote', () => {
  const rows = (sender: number, receiver: number): PipedResult['rows'] => [
    { key: 'parleyPlain', label: 'parley --plain', lines: 100_001, runs: [], seconds: 0.6, ratio: 3 },
    { key: 'parleyPlainSender', label: 'sender', lines: 100_001, runs: [], seconds: 0.4, ratio: sender },
    {
      key: 'parleyPlainReceiver',
      label: 'receiver',
      lines: 100_001,
      runs: [],
      seconds: 0.5,
      ratio: receiver,
    },
  ]

  it('names the end that is slower alone, by more than a tenth, as the one that bounds the --plain pipe', () => {
    expect(plainEndsNote(result(rows(2, 2.5)))).toBe(
      '  --plain by end: the sender alone 2.00×, the receiver alone 2.50×, both 3.00×: the receiver bounds the pipe',
    )
    expect(plainEndsNote(result(rows(3, 2.5)))).toContain('the sender bounds the pipe')
  })

  it('names neither end when they are within a tenth of each other', () => {
    expect(plainEndsNote(result(rows(2.28, 2.2)))).toBe(
      '  --plain by end: the sender alone 2.28×, the receiver alone 2.20×, both 3.00×: the ends cost about the same alone, and together more than either (they share the cores)',
    )
  })

  it('says nothing when an end was not measured', () => {
    expect(plainEndsNote(result(rows(2, 2.5).filter((r) => r.key !== 'parleyPlainSender')))).toBeUndefined()
    const failed = rows(2, 2.5).map((r) => (r.key === 'parleyPlainReceiver' ? { ...r, ratio: undefined } : r))
    expect(plainEndsNote(result(failed))).toBeUndefined()
  })
})

describe('noiseFloorNote', () => {
  const noise = (seconds: number, oneLine: number): PipedResult['rows'] => [
    { key: 'noise', label: 'noise', lines: 100_001, runs: [], seconds, ratio: seconds / 0.2 },
    { key: 'noiseOneLine', label: 'noise, 1 line', lines: 1, runs: [], seconds: oneLine },
  ]

  it("sets the secure pipe's cost per line beside the Noise stack's, each beyond its one-line run", () => {
    // The Noise pipe: 0.3 s, 0.15 s for 1 line; parley: 1 s, 0.25 s for 1 line (100,000 further lines).
    const rows = [...timed(0.2, 1, 0.25).rows, ...noise(0.3, 0.15)]
    expect(noiseFloorNote(result(rows))).toBe(
      '  the Noise stack alone (node pipe through secret-stream): 1.50× the node pipe, 1.5 µs per line beyond its 1-line run; parley (secure) 7.5 µs, 6.0 of them its own (frames, acks, hash chain, journals, display)',
    )
  })

  it('says nothing when the Noise pipe or its one-line run was not timed', () => {
    const rows = [...timed(0.2, 1, 0.25).rows, ...noise(0.3, 0.15)]
    expect(noiseFloorNote(result(rows.filter((r) => r.key !== 'noiseOneLine')))).toBeUndefined()
    expect(noiseFloorNote(result(rows.filter((r) => r.key !== 'noise')))).toBeUndefined()
    expect(noiseFloorNote(result(timed(0.2, 1, 0.25).rows))).toBeUndefined()
  })
})
