import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type LookupResult, LookupSchedule } from './lookups.js'

/** Gaps between the lookups at `times`, the first counted from `start`. */
function gaps(times: number[], start: number): number[] {
  return times.map((t, i) => t - (i === 0 ? start : (times[i - 1] as number)))
}

describe('room lookups', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('looks again soon after joining, then twice as late each time, up to the last delay', async () => {
    const lookups: number[] = []
    const start = Date.now()
    const schedule = new LookupSchedule(() => void lookups.push(Date.now()), 1_000, 60_000)
    await vi.advanceTimersByTimeAsync(300_000)
    expect(gaps(lookups, start).slice(0, 8)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000,
    ])
    schedule.stop()
  })

  it('starts the row over when a link to a member is lost, after backing off to the last delay', async () => {
    const lookups: number[] = []
    const schedule = new LookupSchedule(() => void lookups.push(Date.now()), 1_000, 60_000)
    // A room up for a while: the next lookup is a minute away.
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(schedule.nextDelayMs).toBe(60_000)
    const seen = lookups.length
    const lost = Date.now()
    schedule.restart()
    // The member may be back at another address: the room is looked up within a second, not a minute.
    await vi.advanceTimersByTimeAsync(1_000)
    expect(lookups.slice(seen)).toEqual([lost + 1_000])
    await vi.advanceTimersByTimeAsync(2_000 + 4_000)
    expect(lookups.slice(seen)).toEqual([lost + 1_000, lost + 3_000, lost + 7_000])
    schedule.stop()
  })

  it('a loss while a lookup is a second away changes nothing; a stopped schedule looks no more', async () => {
    const lookups: number[] = []
    const schedule = new LookupSchedule(() => void lookups.push(Date.now()), 1_000, 60_000)
    const start = Date.now()
    await vi.advanceTimersByTimeAsync(500)
    schedule.restart()
    await vi.advanceTimersByTimeAsync(500)
    expect(lookups).toEqual([start + 1_000])
    schedule.stop()
    schedule.restart()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(lookups).toEqual([start + 1_000])
  })

  it('tries a lookup that failed again within a second, though the room was looked up only every minute', async () => {
    const lookups: number[] = []
    let result: LookupResult = 'stored'
    const schedule = new LookupSchedule(
      async () => {
        lookups.push(Date.now())
        return result
      },
      1_000,
      60_000,
      { lastRetryMs: 8_000 },
    )
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(schedule.nextDelayMs).toBe(60_000)
    // The DHT stops answering: this node's announcement is not stored by the next lookups.
    result = 'failed'
    await vi.advanceTimersToNextTimerAsync()
    const failedAt = lookups.length - 1
    await vi.advanceTimersByTimeAsync(60_000)
    expect(gaps(lookups.slice(failedAt + 1), lookups[failedAt] as number).slice(0, 6)).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000, 8_000,
    ])
    schedule.stop()
  })

  it('looks again a second after this node is stored at last, however long its announcements failed', async () => {
    const lookups: number[] = []
    let result: LookupResult = 'failed'
    // The join's own announcement was not stored either.
    const schedule = new LookupSchedule(
      async () => {
        lookups.push(Date.now())
        return result
      },
      1_000,
      60_000,
      { lastRetryMs: 8_000, stored: false },
    )
    await vi.advanceTimersByTimeAsync(5 * 60_000)
    // The DHT answers again. A member that joined meanwhile looked while this node was nowhere, and backed
    // off since: it is this node that must look once more, right after its announcement is stored.
    result = 'stored'
    const before = lookups.length
    await vi.advanceTimersToNextTimerAsync()
    const storedAt = lookups[before] as number
    expect(lookups).toHaveLength(before + 1)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(gaps(lookups.slice(before + 1), storedAt)).toEqual([1_000, 2_000, 4_000])
    schedule.stop()
  })

  it('counts each delay from the end of a lookup: a slow one is not overlapped by the next', async () => {
    const started: number[] = []
    const finish: ((result: LookupResult) => void)[] = []
    const schedule = new LookupSchedule(
      () => {
        started.push(Date.now())
        return new Promise<LookupResult>((resolve) => finish.push(resolve))
      },
      1_000,
      60_000,
    )
    const start = Date.now()
    await vi.advanceTimersByTimeAsync(30_000)
    expect(started).toEqual([start + 1_000])
    const ended = Date.now()
    finish[0]?.('stored')
    await vi.advanceTimersByTimeAsync(2_000)
    expect(started).toEqual([start + 1_000, ended + 2_000])
    schedule.stop()
    finish[1]?.('stored')
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(started).toHaveLength(2)
  })
})
