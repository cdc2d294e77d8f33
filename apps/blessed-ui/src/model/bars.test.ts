import { describe, expect, it } from 'vitest'
import { graphemeWidth } from '../text/width.js'
import { statusRow } from './bars.js'
import { rowText, rowWidth } from './rows.js'
import type { StatusSummary } from './status.js'

const width = graphemeWidth()
const alice = { name: 'alice', secure: true }
const busy: StatusSummary = {
  state: 'connected',
  peer: { name: 'bob', address: '127.0.0.1:42143' },
  others: 3,
  listen: '127.0.0.1:47311',
  undelivered: 12,
}
const bar = (summary: StatusSummary, cols: number, self = alice) => {
  const row = statusRow(summary, cols, self, width)
  expect(rowWidth(row, width)).toBe(cols)
  return rowText(row).trimEnd()
}

describe('the status bar on a narrow terminal', () => {
  it('shows everything when it fits', () => {
    expect(bar(busy, 100)).toBe(
      ' connected  bob 127.0.0.1:42143 (+3) │ alice @ 127.0.0.1:47311 │ 12 undelivered',
    )
  })

  it('keeps the undelivered count whole, cutting your own name and address first', () => {
    expect(bar(busy, 70)).toBe(' connected  bob 127.0.0.1:42143 (+3) │ alice @ 127.… │ 12 undelivered')
    expect(bar(busy, 60)).toBe(' connected  bob 127.0.0.1:42143 (+3) │ al… │ 12 undelivered')
    expect(bar(busy, 56)).toBe(' connected  bob 127.0.0.1:42143 (+3) │ 12 undelivered')
    expect(bar({ ...busy, undelivered: 0 }, 41)).toBe(' connected  bob 127.0.0.1:42143 (+3)')
  })

  it('cuts the peer with … once your own segment is gone, never leaving a lone separator', () => {
    expect(bar(busy, 45)).toBe(' connected  bob 127.0.0.1:… │ 12 undelivered')
    expect(bar({ ...busy, undelivered: 0 }, 40)).toBe(' connected  bob 127.0.0.1:42143 (+3)')
    expect(bar({ ...busy, undelivered: 0 }, 50)).toBe(' connected  bob 127.0.0.1:42143 (+3) │ alice @ 1…')
  })

  it('cuts a long name or a wide one by cells, never inside a character', () => {
    const long = { ...busy, peer: { name: `東京${'x'.repeat(60)}`, address: '127.0.0.1:1' }, undelivered: 0 }
    expect(bar(long, 30)).toBe(' connected  東京xxxxxxxxxxxx…')
    expect(bar(long, 31)).toBe(' connected  東京xxxxxxxxxxxxx…')
  })

  it('drops a segment whose first character is too wide to show, rather than leave only │ … of it', () => {
    // tmux 3.3a draws 👍🏽 in 4 cells: in 6 cells `│ 👍🏽…` does not fit, and `│ … ` says nothing.
    const tmux = graphemeWidth({ modifier: 'sum' })
    const thumbs = { name: '👍🏽bob', secure: true }
    const lone: string[] = []
    for (let cols = 30; cols <= 60; cols++) {
      const row = statusRow(busy, cols, thumbs, tmux)
      expect(rowWidth(row, tmux)).toBe(cols)
      const text = rowText(row).trimEnd()
      if (/│ …( |$)/.test(text)) lone.push(`${cols}: ${text}`)
    }
    expect(lone).toEqual([])
    expect(rowText(statusRow(busy, 60, thumbs, tmux)).trimEnd()).toBe(
      ' connected  bob 127.0.0.1:42143 (+3) │ 12 undelivered',
    )
  })

  it('counts a tab or a newline in a name as the ^I or ^J it is shown as, so the count stays whole', () => {
    const tabbed = { ...busy, peer: { name: 'bob\tthe\nbuilder', address: '127.0.0.1:42143' } }
    expect(bar(tabbed, 100)).toBe(
      ' connected  bob^Ithe^Jbuilder 127.0.0.1:42143 (+3) │ alice @ 127.0.0.1:47311 │ 12 undelivered',
    )
    for (let cols = 40; cols <= 90; cols++) expect(bar(tabbed, cols)).toMatch(/│ 12 undelivered$/)
    expect(bar(busy, 70, { name: 'al\tice', secure: true })).toBe(
      ' connected  bob 127.0.0.1:42143 (+3) │ al^Iice @ 12… │ 12 undelivered',
    )
  })

  it('cuts even the state and the count with … on a tiny terminal', () => {
    expect(bar(busy, 20)).toBe(' connected │ 12 und…')
    expect(bar({ ...busy, undelivered: 0 }, 12)).toBe(' connected')
  })
})
