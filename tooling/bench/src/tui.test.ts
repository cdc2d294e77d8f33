import { describe, expect, it } from 'vitest'
import { parseFlood } from './tui.js'

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
})
