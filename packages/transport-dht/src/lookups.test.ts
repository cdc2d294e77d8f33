import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LookupSchedule } from './lookups.js'

describe('room lookups', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('looks again soon after joining, then twice as late each time, up to the last delay', () => {
    const lookups: number[] = []
    const start = Date.now()
    const schedule = new LookupSchedule(() => lookups.push(Date.now()), 1_000, 60_000)
    vi.advanceTimersByTime(300_000)
    const gaps = lookups.map((t, i) => t - (i === 0 ? start : (lookups[i - 1] as number)))
    expect(gaps.slice(0, 8)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000])
    schedule.stop()
  })

  it('starts the row over when a link to a member is lost, after backing off to the last delay', () => {
    const lookups: number[] = []
    const schedule = new LookupSchedule(() => lookups.push(Date.now()), 1_000, 60_000)
    // A room up for a while: the next lookup is a minute away.
    vi.advanceTimersByTime(10 * 60_000)
    expect(schedule.nextDelayMs).toBe(60_000)
    const seen = lookups.length
    const lost = Date.now()
    schedule.restart()
    // The member may be back at another address: the room is looked up within a second, not a minute.
    vi.advanceTimersByTime(1_000)
    expect(lookups.slice(seen)).toEqual([lost + 1_000])
    vi.advanceTimersByTime(2_000 + 4_000)
    expect(lookups.slice(seen)).toEqual([lost + 1_000, lost + 3_000, lost + 7_000])
    schedule.stop()
  })

  it('a loss while a lookup is a second away changes nothing; a stopped schedule looks no more', () => {
    const lookups: number[] = []
    const schedule = new LookupSchedule(() => lookups.push(Date.now()), 1_000, 60_000)
    const start = Date.now()
    vi.advanceTimersByTime(500)
    schedule.restart()
    vi.advanceTimersByTime(500)
    expect(lookups).toEqual([start + 1_000])
    schedule.stop()
    schedule.restart()
    vi.advanceTimersByTime(10 * 60_000)
    expect(lookups).toEqual([start + 1_000])
  })
})
