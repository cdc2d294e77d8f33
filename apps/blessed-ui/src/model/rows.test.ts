import { describe, expect, it } from 'vitest'
import { graphemeWidth } from '../text/width.js'
import { rowText, rowWidth, type Span, TEXT, wrap, wrapCells } from './rows.js'

const width = graphemeWidth()
const plain = (text: string) => [{ text, style: TEXT }]

describe('wrapping', () => {
  it('breaks after spaces when it can', () => {
    expect(wrap(plain('the quick brown fox'), 10, width).map(rowText)).toEqual(['the quick ', 'brown fox'])
  })

  it('breaks inside a word that is longer than a row', () => {
    expect(wrap(plain('abcdefghijkl'), 5, width).map(rowText)).toEqual(['abcde', 'fghij', 'kl'])
  })

  it('breaks a word longer than a row where the row ends, instead of leaving the name alone on a row', () => {
    const url = `https://example.com/${'b'.repeat(24)}`
    const rows = wrap([{ text: '<bob> ', style: TEXT }, ...plain(url)], 20, width, 6)
    expect(rows.map(rowText)).toEqual([
      '<bob> https://exampl',
      '      e.com/bbbbbbbb',
      '      bbbbbbbbbbbbbb',
      '      bb',
    ])
    // A word that fits a row of its own still moves down whole.
    const rows2 = wrap([{ text: '<bob> ', style: TEXT }, ...plain('hello wonderful')], 20, width, 6)
    expect(rows2.map(rowText)).toEqual(['<bob> hello ', '      wonderful'])
  })

  it('indents continuation rows under the text', () => {
    const rows = wrap([{ text: '<bob> ', style: TEXT }, ...plain('one two three four')], 14, width, 6)
    expect(rows.map(rowText)).toEqual(['<bob> one two ', '      three ', '      four'])
  })

  it('never splits or overflows a wide character', () => {
    const rows = wrap(plain('日本語のテキスト😀👨‍👩‍👧'), 5, width)
    expect(rows.map(rowText)).toEqual(['日本', '語の', 'テキ', 'スト', '😀👨‍👩‍👧'])
    for (const row of rows) expect(rowWidth(row, width)).toBeLessThanOrEqual(5)
  })

  it('keeps rows within the width for text full of emoji, CJK and combining marks', () => {
    const text = 'é😀 日本 👍🏽x 👨‍👩‍👧 cafe\u0301 '.repeat(20)
    for (const cols of [7, 13, 40, 119]) {
      const rows = wrap(plain(text), cols, width)
      for (const row of rows) expect(rowWidth(row, width)).toBeLessThanOrEqual(cols)
      expect(rows.map(rowText).join('').replace(/ /g, '')).toBe(text.replace(/ /g, ''))
    }
  })

  it('breaks between wide characters, so CJK text fills its rows instead of moving whole to the next', () => {
    const rows = wrap(plain('ok 明日の会議は十時から始まります'), 12, width)
    expect(rows.map(rowText)).toEqual(['ok 明日の会', '議は十時から', '始まります'])
    // A message that starts with CJK starts on the sender's row, not on an empty one.
    const own = wrap([{ text: '<bob> ', style: TEXT }, ...plain('明日の会議')], 10, width, 6)
    expect(own.map(rowText)[0]).toBe('<bob> 明日')
  })

  it('keeps closing punctuation and small kana off the start of a row, and opening brackets off its end', () => {
    // 「 may not end a row; 。, 」 and small kana may not start one (a pane narrower than a run that may not
    // be broken, such as ちょっ, breaks inside it as inside a long word).
    expect(wrap(plain('今日は「会議」です。ちょっと待って'), 8, width).map(rowText)).toEqual([
      '今日は',
      '「会議」',
      'です。',
      'ちょっと',
      '待って',
    ])
    for (const cols of [6, 7, 8, 10]) {
      const rows = wrap(plain('今日は「会議」です。ちょっと待って'), cols, width).map(rowText)
      for (const row of rows) {
        expect(
          row.startsWith('。') || row.startsWith('」') || row.startsWith('っ') || row.startsWith('ょ'),
        ).toBe(false)
        expect(row.endsWith('「')).toBe(false)
      }
    }
  })

  it('keeps every row within the pane however narrow, after a long prefix too', () => {
    const spans = [{ text: '01:02:03 <a-long-name> ', style: TEXT }, ...plain('日本語 and 😀 text')]
    for (const cols of [1, 2, 3, 4, 5, 9])
      for (const row of wrap(spans, cols, width, 23)) expect(rowWidth(row, width)).toBeLessThanOrEqual(cols)
  })

  it('gives an empty line one empty row', () => {
    expect(wrap(plain(''), 10, width)).toEqual([[]])
  })
})

describe('a line that fits in one row', () => {
  it('comes out as the cell by cell layout gives it: same spans, same styles, merged alike', () => {
    const bold = { kind: 'own' } as const
    const lines: Span[][] = [
      [
        { text: '12:00:00 ', style: TEXT },
        { text: '<bob> ', style: bold },
        ...plain('hi 😀 日本語 cafe\u0301'),
      ],
      [...plain('a'), ...plain(''), ...plain('b'), { text: 'c', style: bold }, { text: 'd', style: bold }],
      [{ text: 'tab\there', style: TEXT }],
      [{ text: 'zero\u200bwidth', style: TEXT }],
      plain('exactly ten'),
      plain(''),
      [],
    ]
    for (const spans of lines) {
      for (const cols of [1, 5, 10, 11, 12, 40, 120]) {
        for (const indent of [0, 4])
          expect(wrap(spans, cols, width, indent)).toEqual(wrapCells(spans, cols, width, indent))
      }
    }
    expect(
      wrap([{ text: '<bob> ', style: bold }, { text: 'x', style: bold }, ...plain('y')], 20, width),
    ).toEqual([
      [
        { text: '<bob> x', style: bold },
        { text: 'y', style: TEXT },
      ],
    ])
  })
})
