import { describe, expect, it } from 'vitest'
import {
  JOURNAL_LAG_BYTES,
  JournalLag,
  LIGHT_LINK_BYTES,
  LONE_LINK_JOURNAL_LAG_BYTES,
} from './journal-lag.js'

function setUp() {
  const flushes: (() => void)[] = []
  const handed: string[][] = []
  const lag = new JournalLag<string>(
    () =>
      new Promise<void>((resolve) => {
        flushes.push(resolve)
      }),
    () => true,
    (waited) => handed.push(waited),
  )
  const flush = async () => {
    flushes.shift()?.()
    await Promise.resolve()
    await Promise.resolve()
  }
  return { lag, flushes, handed, flush }
}

describe('JournalLag', () => {
  it('lets a lone link run LONE_LINK_JOURNAL_LAG_BYTES ahead, and two links JOURNAL_LAG_BYTES between them', () => {
    const { lag } = setUp()
    lag.took('a', LONE_LINK_JOURNAL_LAG_BYTES - 1)
    expect(lag.holds('a', LIGHT_LINK_BYTES)).toBe(false)
    lag.took('a', 1)
    expect(lag.holds('a', 1)).toBe(true)

    const two = setUp().lag
    two.took('a', JOURNAL_LAG_BYTES / 2)
    two.took('b', JOURNAL_LAG_BYTES / 2)
    expect(two.holds('a', 1)).toBe(true)
  })

  it('still reads a light link while the journal lags, up to LIGHT_LINK_BYTES', () => {
    const { lag } = setUp()
    lag.took('flood', JOURNAL_LAG_BYTES)
    lag.took('person', 100)
    expect(lag.holds('person', 100)).toBe(false)
    expect(lag.holds('person', LIGHT_LINK_BYTES)).toBe(true)
    expect(lag.holds('flood', 1)).toBe(true)
  })

  it('hands over the links that waited, in order, once the journal caught up, and counts afresh', async () => {
    const { lag, flushes, handed, flush } = setUp()
    lag.took('a', LONE_LINK_JOURNAL_LAG_BYTES)
    lag.wait('a')
    lag.wait('b')
    lag.watch()
    lag.watch()
    expect(flushes).toHaveLength(1)
    expect(lag.isWaiting('a')).toBe(true)
    await flush()
    expect(handed).toEqual([['a', 'b']])
    expect(lag.isWaiting('a')).toBe(false)
    expect(lag.holds('a', 1)).toBe(false)
    // Nothing was taken since: no new wait for the journal.
    expect(flushes).toHaveLength(0)
  })

  it('forgets a closed link: it is not handed over', async () => {
    const { lag, handed, flush } = setUp()
    lag.took('a', 10)
    lag.wait('a')
    lag.wait('b')
    lag.forget('a')
    lag.watch()
    await flush()
    expect(handed).toEqual([['b']])
  })
})
