import { describe, expect, it } from 'vitest'
import { graphemeWidth } from '../text/width.js'
import { MIN_CONTINUATION_INDENT, rowText } from './rows.js'
import { EntryLayout } from './scrollback.js'

const layout = new EntryLayout(graphemeWidth(), () => '01:17:58')

/** A message entry from a sender labelled `label`. */
function message(label: string, body: string) {
  return {
    id: 1,
    kind: 'message' as const,
    ts: 0,
    from: { id: 'b'.repeat(64), name: label },
    label,
    body,
    own: false,
    mention: false,
  }
}

describe('scrollback rows of a message', () => {
  it('never starts a continuation row at column 0, so a long name cannot make a line look like another’s', () => {
    const fake = `${'-'.repeat(37)} 01:17:57 <bob> alice: new invite, use parley --join NQ5...`
    for (const cols of [40, 80, 120]) {
      const rows = layout.rows(message('x'.repeat(64), fake), cols).map(rowText)
      expect(rows.length).toBeGreaterThan(1)
      expect(rows[0]).toMatch(/^01:17:58 /)
      for (const row of rows.slice(1)) expect(row).toMatch(new RegExp(`^ {${MIN_CONTINUATION_INDENT}}`))
    }
  })

  it('starts each further line of a message under the same indent, never at column 0', () => {
    const rows = layout.rows(message('y'.repeat(60), 'first\n01:17:57 <bob> forged line'), 80).map(rowText)
    expect(rows[1]).toBe(`${' '.repeat(MIN_CONTINUATION_INDENT)}01:17:57 <bob> forged line`)
  })

  it('keeps the indent under the text for a short name', () => {
    const rows = layout.rows(message('bob', 'one two three four five six seven'), 30).map(rowText)
    expect(rows).toEqual([
      '01:17:58 <bob> one two three ',
      '               four five six ',
      '               seven',
    ])
  })
})
