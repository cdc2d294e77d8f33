import { describe, expect, it } from 'vitest'
import { CatchUpMeter, LinkTable, MAX_CATCH_UP_WAIT_MS } from './link-table.js'

const handshakes = (max: number, maxPerSource: number) =>
  new LinkTable<number>({
    limits: { max, maxPerSource },
    whenFull: 'drop-oldest',
    counting: 'still in their handshake',
  })

describe('LinkTable', () => {
  it('refuses one more from a source at its cap, and counts other sources apart', () => {
    const table = handshakes(10, 2)
    expect(table.admit(1, 'a').ok).toBe(true)
    expect(table.admit(2, 'a').ok).toBe(true)
    expect(table.admit(3, 'a')).toEqual({
      ok: false,
      reason: 'too many connections still in their handshake (limit 2 from a); refused',
    })
    expect(table.admit(4, 'b').ok).toBe(true)
    expect(table.countedFrom('a')).toBe(2)
    expect(table.countedFrom()).toBe(3)
  })

  it('drops the oldest counted link to let a new one in when the table is full', () => {
    const table = handshakes(2, 2)
    table.admit(1, 'a')
    table.admit(2, 'b')
    const admission = table.admit(3, 'c')
    expect(admission).toMatchObject({
      ok: true,
      dropped: 1,
      droppedWhy: expect.stringContaining('oldest of 2'),
    })
    expect(table.countedFrom()).toBe(2)
    expect(table.countedFrom('a')).toBe(0)
  })

  it('frees a slot once a link settles or goes, and never counts links without a source', () => {
    const table = handshakes(1, 1)
    table.admit(1, 'a')
    table.settle(1)
    expect(table.admit(2, 'a').ok).toBe(true)
    table.delete(2)
    expect(table.admit(3, 'a')).toMatchObject({ ok: true })
    for (let id = 10; id < 20; id++) expect(table.admit(id, undefined)).toMatchObject({ ok: true })
    expect(table.countedFrom()).toBe(1)
    expect(table.size).toBe(12)
    expect(table.accountOf(10)).toEqual({
      held: { buffered: 0, watermarks: 0 },
      source: undefined,
      counted: false,
    })
  })

  it('refuses instead of dropping when told to', () => {
    const table = new LinkTable<number>({
      limits: { max: 2, maxPerSource: 5 },
      whenFull: 'refuse',
      counting: 'open',
    })
    table.admit(1, 'a')
    table.admit(2, 'b')
    expect(table.admit(3, 'c')).toEqual({ ok: false, reason: 'too many connections (limit 2); refused' })
    expect(table.has(3)).toBe(false)
  })

  describe('budgets', () => {
    const budgeted = () =>
      new LinkTable<number>({
        whenFull: 'refuse',
        counting: 'linked',
        budgets: { buffered: 100, watermarks: 50, total: 180 },
      })

    it('counts what each link holds by kind, and refuses a charge past the link’s budget without counting it', () => {
      const table = budgeted()
      table.admit(1, undefined)
      expect(table.charge(1, 'buffered', 60)).toEqual({ ok: true })
      expect(table.charge(1, 'watermarks', 50)).toEqual({ ok: true })
      expect(table.charge(1, 'buffered', 41)).toEqual({
        ok: false,
        over: 'link',
        reason: 'holds 60 bytes of buffered messages; 41 more would pass its budget of 100',
      })
      expect(table.accountOf(1)?.held).toEqual({ buffered: 60, watermarks: 50 })
      expect(table.held).toBe(110)
    })

    it('refuses a charge that would take all links past the total', () => {
      const table = budgeted()
      table.admit(1, undefined)
      table.admit(2, undefined)
      table.charge(1, 'buffered', 100)
      expect(table.charge(2, 'buffered', 81)).toMatchObject({ ok: false, over: 'total' })
      expect(table.fullest('buffered', 2)).toEqual({ key: 1, held: 100 })
      expect(table.charge(2, 'buffered', 80).ok).toBe(true)
      expect(table.held).toBe(180)
    })

    it('releases what a link held, piecemeal or all at once when it is deleted, and charges no link it lacks', () => {
      const table = budgeted()
      table.admit(1, undefined)
      table.charge(1, 'buffered', 70)
      table.charge(1, 'watermarks', 20)
      table.release(1, 'buffered', 30)
      expect(table.accountOf(1)?.held).toEqual({ buffered: 40, watermarks: 20 })
      table.delete(1)
      expect(table.held).toBe(0)
      expect(table.charge(9, 'buffered', 1_000)).toEqual({ ok: true })
      expect(table.held).toBe(0)
    })

    it('starts a link admitted again from nothing', () => {
      const table = budgeted()
      table.admit(1, undefined)
      table.charge(1, 'buffered', 70)
      table.admit(1, undefined)
      expect(table.accountOf(1)?.held).toEqual({ buffered: 0, watermarks: 0 })
      expect(table.held).toBe(0)
    })
  })
})

describe('CatchUpMeter', () => {
  it('takes from every allowance that applies, and says how long until it can take again', () => {
    const rate = (perSecond: number, burst: number) => ({ perSecond, burst })
    const meter = new CatchUpMeter({
      perKey: rate(100, 300),
      perSource: rate(1000, 1000),
      total: rate(1000, 1000),
    })
    expect(meter.take('k', 'h', 300, 0)).toBe(true)
    expect(meter.take('k', 'h', 100, 0)).toBe(false)
    expect(meter.waitFor('k', 'h', 100, 0)).toBe(1000)
    expect(meter.take('k', 'h', 100, 1000)).toBe(true)
  })

  it('waits a minute at most for an allowance that never refills, rather than asking again at once', () => {
    const never = { perSecond: 0, burst: 10 }
    const meter = new CatchUpMeter({ perKey: never, perSource: never, total: never })
    expect(meter.take('k', undefined, 10, 0)).toBe(true)
    expect(meter.waitFor('k', undefined, 10, 0)).toBe(MAX_CATCH_UP_WAIT_MS)
  })
})
