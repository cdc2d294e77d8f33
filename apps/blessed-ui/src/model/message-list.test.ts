import { describe, expect, it } from 'vitest'
import { LAID_CAP, type ListEntry, MessageList } from './message-list.js'
import { TEXT } from './rows.js'

interface Line extends ListEntry {
  text: string
  /** How many rows this entry takes. */
  height?: number
}

let id = 1
const line = (text: string, height = 1): Line => ({ id: id++, text, height })

function list(cap?: number) {
  const l = new MessageList<Line>(
    (entry) =>
      Array.from({ length: entry.height ?? 1 }, (_, i) => [
        { text: i === 0 ? entry.text : `${entry.text}+${i}`, style: TEXT },
      ]),
    cap,
  )
  l.setSize(80, 5)
  return l
}
const shown = (l: MessageList<Line>) => l.page().rows.map((row) => row.map((s) => s.text).join(''))

describe('message list', () => {
  it('keeps the rows of a bounded number of entries however many were shown, and lays out again those it let go', () => {
    let laidOut = 0
    const counting = new MessageList<Line>((entry) => {
      laidOut++
      return [[{ text: entry.text, style: TEXT }]]
    })
    counting.setSize(80, 5)
    for (let i = 0; i < 2_048; i++) {
      counting.add(line(`m${i}`))
      counting.page()
    }
    // Rows let go are laid out again when the entry comes back into view, and only those of the page.
    const before = laidOut
    counting.scrollToTop()
    expect(shown(counting)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    expect(laidOut).toBeGreaterThan(before)
    expect(laidOut - before).toBeLessThanOrEqual(10)
    expect(counting.laidOut).toBeLessThanOrEqual(LAID_CAP)
    counting.clear()
    expect(counting.laidOut).toBe(0)
  })

  it('shows the newest rows, padded at the bottom while the history is short', () => {
    const l = list()
    l.add(line('a'))
    l.add(line('b'))
    expect(shown(l)).toEqual(['a', 'b', '', '', ''])
    for (const t of ['c', 'd', 'e', 'f']) l.add(line(t))
    expect(shown(l)).toEqual(['b', 'c', 'd', 'e', 'f'])
  })

  it('keeps at most `cap` entries, dropping the oldest', () => {
    const l = list(100)
    for (let i = 0; i < 10_000; i++) l.add(line(`m${i}`))
    expect(l.size).toBe(100)
    expect(l.all()[0]!.text).toBe('m9900')
    expect(shown(l)[4]).toBe('m9999')
  })

  it('defaults to a cap of 10,000 entries', () => {
    const l = list()
    for (let i = 0; i < 10_050; i++) l.add(line(`m${i}`))
    expect(l.size).toBe(10_000)
  })

  it('moves its revision when entries or the scroll position change, not when a page is laid out', () => {
    const l = list()
    for (let i = 0; i < 20; i++) l.add(line(`m${i}`))
    const at = l.revision
    l.setSize(40, 5)
    l.page()
    l.scrollToBottom()
    expect(l.revision).toBe(at)
    l.scrollUp(1)
    expect(l.revision).toBeGreaterThan(at)
    const scrolled = l.revision
    l.add(line('new'))
    expect(l.revision).toBeGreaterThan(scrolled)
  })

  it('scrolls up a page and stays put while new messages arrive, counting them', () => {
    const l = list()
    for (let i = 0; i < 20; i++) l.add(line(`m${i}`))
    l.scrollUp(4)
    expect(shown(l)).toEqual(['m11', 'm12', 'm13', 'm14', 'm15'])
    l.add(line('new1'))
    l.add(line('new2'))
    expect(shown(l)).toEqual(['m11', 'm12', 'm13', 'm14', 'm15'])
    expect(l.page()).toMatchObject({ scrolled: true, newBelow: 2 })
  })

  it('counts down the new messages as the view moves over them, and never past what the cap kept', () => {
    const l = list(30)
    for (let i = 0; i < 20; i++) l.add(line(`m${i}`))
    l.scrollUp(4)
    for (let i = 0; i < 8; i++) l.add(line(`new${i}`))
    expect(l.page().newBelow).toBe(8)
    // The bottom row moves down over m16-m19 first: all eight are still below.
    l.scrollDown(4)
    expect(l.page().newBelow).toBe(8)
    l.scrollDown(3)
    expect(shown(l).at(-1)).toBe('new2')
    expect(l.page().newBelow).toBe(5)
    // A flood far past the cap: the count names no more than the entries still below the view.
    for (let i = 0; i < 100; i++) l.add(line(`flood${i}`))
    expect(l.scrolled).toBe(true)
    expect(l.page().newBelow).toBeLessThan(30)
    expect(l.page().newBelow).toBe(l.newBelow)
  })

  it('returns to the bottom and forgets the count when scrolled all the way down', () => {
    const l = list()
    for (let i = 0; i < 20; i++) l.add(line(`m${i}`))
    l.scrollUp(4)
    l.add(line('new'))
    l.scrollDown(2)
    expect(l.scrolled).toBe(true)
    l.scrollDown(10)
    expect(l.page()).toMatchObject({ scrolled: false, newBelow: 0 })
    expect(shown(l)[4]).toBe('new')
  })

  it('does not scroll past the oldest row', () => {
    const l = list()
    for (let i = 0; i < 8; i++) l.add(line(`m${i}`))
    l.scrollUp(100)
    expect(shown(l)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
  })

  it('does not scroll when everything fits', () => {
    const l = list()
    l.add(line('only'))
    l.scrollUp(3)
    expect(l.scrolled).toBe(false)
    expect(shown(l)[0]).toBe('only')
  })

  it('scrolls by rows inside an entry that wraps', () => {
    const l = list()
    l.add(line('a'))
    l.add(line('long', 6))
    l.add(line('z'))
    l.scrollUp(1)
    expect(shown(l)).toEqual(['long+1', 'long+2', 'long+3', 'long+4', 'long+5'])
  })

  it('keeps the history and the scroll position when the size changes', () => {
    const l = list()
    for (let i = 0; i < 30; i++) l.add(line(`m${i}`))
    l.scrollUp(10)
    const bottom = shown(l)[4]
    l.setSize(40, 10)
    const rows = shown(l)
    expect(rows).toHaveLength(10)
    expect(rows[9]).toBe(bottom)
    expect(l.size).toBe(30)
  })

  it('skips hidden entries', () => {
    const l = list()
    const a = line('a')
    l.add(a)
    l.add(line('b'))
    a.hidden = true
    expect(shown(l)[0]).toBe('b')
  })

  it('moves the view to the oldest entry left when the one it showed is trimmed', () => {
    const l = list(10)
    for (let i = 0; i < 10; i++) l.add(line(`m${i}`))
    l.scrollUp(100)
    for (let i = 0; i < 20; i++) l.add(line(`n${i}`))
    expect(l.size).toBe(10)
    expect(shown(l)).toEqual(['n10', 'n11', 'n12', 'n13', 'n14'])
  })

  it('empties on clear', () => {
    const l = list()
    l.add(line('a'))
    l.clear()
    expect(l.size).toBe(0)
    expect(shown(l)).toEqual(['', '', '', '', ''])
  })
})
