import { describe, expect, it } from 'vitest'
import { catchUpWhat, clockTime, countText, terminalLine, terminalSafe } from './display.js'
import { type StartedNode, startupNotes } from './node-setup.js'

describe('the line above a catch-up', () => {
  it('says whether it came while this node was away, or the last run received it and may not have shown it', () => {
    const kinds = (replayed: number, beforeJoining = 0, heldUp = 0) => ({ replayed, beforeJoining, heldUp })
    expect(catchUpWhat(12, kinds(0))).toBe('from while you were away')
    expect(catchUpWhat(2, kinds(2))).toBe('the last run received and may not have shown')
    expect(catchUpWhat(3_000, kinds(1_500))).toBe(
      'from while you were away (1,500 of them received by the last run, maybe not shown)',
    )
  })

  it('says a first run was not away: what it catches up on was sent before it joined', () => {
    const kinds = (replayed: number, beforeJoining = 0, heldUp = 0) => ({ replayed, beforeJoining, heldUp })
    expect(catchUpWhat(12, kinds(0, 12))).toBe('from before you joined')
    // The rest was sent while it ran and reached it late.
    expect(catchUpWhat(12, kinds(0, 5, 7))).toBe('from before you joined or held up on the way')
  })

  it('says a node that ran all along was not away: what came late was held up on the way', () => {
    const kinds = (replayed: number, beforeJoining = 0, heldUp = 0) => ({ replayed, beforeJoining, heldUp })
    expect(catchUpWhat(13_252, kinds(0, 0, 13_252))).toBe('held up on the way')
    expect(catchUpWhat(3, kinds(0, 0, 1))).toBe('from while you were away or held up on the way')
    expect(catchUpWhat(3, kinds(1, 0, 2))).toBe(
      'held up on the way (1 of them received by the last run, maybe not shown)',
    )
  })
})

describe('what status lines and messages print', () => {
  it('groups the digits of a count by thousands', () => {
    expect([0, 7, 999, 1_000, 20_000, 1_234_567].map(countText)).toEqual([
      '0',
      '7',
      '999',
      '1,000',
      '20,000',
      '1,234,567',
    ])
  })

  it('groups any count as the en-US number format does', () => {
    const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0, roundingMode: 'trunc' })
    // Every length of digits up to the largest safe integer's, at its edges and in between.
    for (let digits = 1; digits <= 16; digits++) {
      for (const count of [
        10 ** (digits - 1),
        10 ** digits - 1,
        Math.floor(1234567890123456 / 10 ** (16 - digits)),
      ]) {
        expect(countText(count)).toBe(format.format(count))
      }
    }
    expect(countText(Number.MAX_SAFE_INTEGER)).toBe(format.format(Number.MAX_SAFE_INTEGER))
  })

  it('groups the count of messages an earlier run left in the outbox, before the other notices', () => {
    const started = {
      restoredPending: 12_345,
      notices: ['took over a lock'],
      emptyRooms: ['abcd-efgh'],
    } as unknown as StartedNode
    expect(startupNotes(started)).toEqual([
      '12,345 message(s) from an earlier run wait in the outbox; they go to the room, to whichever peer this node links with first',
      'took over a lock',
      'nobody else is in room abcd-efgh yet; waiting for others to join with the same code',
    ])
    // --json gives the empty rooms as events of their own.
    expect(startupNotes(started, { rooms: false })).toHaveLength(2)
  })

  it('shows controls, bidi controls and line separators instead of acting on them; a line stays one line', () => {
    expect(terminalSafe('a\u001b[2Jb\tc\nd\u202ee\u2028')).toBe('a^[[2Jb\tc\nd\\u202ee\\u2028')
    expect(terminalLine('x\ny\tz')).toBe('x^Jy^Iz')
  })
})

describe('clockTime', () => {
  it('shows a time no date holds, which a peer may send, as dashes rather than NaN', () => {
    expect(clockTime(8_640_000_000_000_001)).toBe('--:--:--')
    expect(clockTime(Number.MAX_SAFE_INTEGER)).toBe('--:--:--')
    expect(clockTime(0)).toMatch(/^\d{2}:\d{2}:\d{2}$/)
  })
})
