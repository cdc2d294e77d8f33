import { describe, expect, it } from 'vitest'
import { parseFlood, poolFloods, type TuiResult } from './tui.js'

/** The lines of flood.js's report that parseFlood reads, as flood.js prints them. */
const REPORT = `flood benchmark: 10000 messages from a parley CLI peer into parley-tui (tmux 120x40, no rate limit: --rate 0)
  first frame after the spawn     412 ms (one start, in tmux, the peer listening)
  first message written after     0.61 s
  last message written after      1.32 s  (7576 messages rendered/s)
  …visible in the tmux pane after 1.35 s
  last message accepted by the CLI 0.98 s, arrived in parley-tui 1.29 s
  last message on screen after it arrived: written 30 ms, visible in the pane 61 ms
  key echo while flooding         median 3 ms, p90 11 ms (40 keys)
  key echo with no flood          median 1 ms, p90 2 ms (20 keys)
`

describe('parseFlood', () => {
  it("reads rendered/s, the key echoes and the last message's way to the screen", () => {
    expect(parseFlood(REPORT, 10_000)).toEqual({
      messages: 10_000,
      renderedPerSec: 7576,
      keyEchoP50Ms: 3,
      keyEchoP90Ms: 11,
      idleKeyEchoP50Ms: 1,
      lastOnScreenMs: 61,
      firstFrameMs: 412,
    })
  })

  it('leaves out the time to the screen when the arrival was not seen', () => {
    const unseen = REPORT.replace(
      'written 30 ms, visible in the pane 61 ms',
      'written NaN ms, visible in the pane NaN ms',
    )
    expect(parseFlood(unseen, 10_000)).not.toHaveProperty('lastOnScreenMs')
  })

  it('leaves out the first frame when an earlier flood.js did not report it', () => {
    const earlier = REPORT.replace(/^ {2}first frame after the spawn.*\n/m, '')
    expect(earlier).not.toContain('first frame')
    expect(parseFlood(earlier, 10_000)).not.toHaveProperty('firstFrameMs')
  })

  it('reads nothing from a report without the flood figures', () => {
    expect(parseFlood('flood benchmark: the peer never connected\n', 10_000)).toBeUndefined()
  })

  it('reads the keys of a verbose report, each of them', () => {
    const verbose = REPORT.replace(/(key echo while flooding.*\n)/, '$1  samples: 3 1 12 4; inside 1 0 2 1\n')
    expect(parseFlood(verbose, 10_000)?.samples).toEqual([3, 1, 12, 4])
    expect(parseFlood(REPORT, 10_000)).not.toHaveProperty('samples')
  })
})

describe('poolFloods', () => {
  const flood = (samples: number[], extra: Partial<TuiResult> = {}): TuiResult => ({
    messages: 10_000,
    renderedPerSec: 20_000,
    keyEchoP50Ms: 0,
    keyEchoP90Ms: 0,
    samples,
    ...extra,
  })

  it('takes the key echoes over every key of every flood, and the slowest last message to the screen', () => {
    // Each flood alone has a p90 of its own; pooled, 30 keys: the 28th smallest is the p90.
    const a = flood([1, 2, 3, 4, 5, 6, 7, 8, 9, 90], {
      keyEchoP90Ms: 90,
      renderedPerSec: 10_000,
      lastOnScreenMs: 40,
    })
    const b = flood([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], {
      keyEchoP90Ms: 10,
      renderedPerSec: 30_000,
      lastOnScreenMs: 900,
    })
    const c = flood([1, 2, 3, 4, 5, 6, 7, 8, 9, 11], {
      keyEchoP90Ms: 11,
      renderedPerSec: 20_000,
      lastOnScreenMs: 60,
    })
    const pooled = poolFloods([a, b, c])
    expect(pooled).toMatchObject({
      floods: 3,
      keys: 30,
      keyEchoP50Ms: 6,
      keyEchoP90Ms: 10,
      floodP90sMs: [90, 10, 11],
      renderedPerSec: 20_000,
      lastOnScreenMs: 900,
    })
    expect(pooled).not.toHaveProperty('samples')
  })

  it("keeps one flood's figures when a report listed no keys", () => {
    const a = flood([], { keyEchoP50Ms: 4, keyEchoP90Ms: 12 })
    expect(poolFloods([a, flood([1, 2])])).toBe(a)
  })
})
