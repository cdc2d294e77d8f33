import { describe, expect, it } from 'vitest'
import { InputLine } from './input-line.js'

function typed(text: string, cursor?: number): InputLine {
  const line = new InputLine()
  line.insert(text)
  if (cursor !== undefined) line.set(text, cursor)
  return line
}

describe('input line editing', () => {
  it('moves to the start and end (C-a, C-e) and by one grapheme (C-b, C-f)', () => {
    const line = typed('a😀b')
    line.home()
    expect(line.cursor).toBe(0)
    line.right()
    line.right()
    expect(line.cursor).toBe(3)
    line.left()
    expect(line.cursor).toBe(1)
    line.end()
    expect(line.cursor).toBe(4)
  })

  it('deletes a whole grapheme with Backspace: a ZWJ family, a flag, an accented letter', () => {
    for (const g of ['👨‍👩‍👧', '🇯🇵', 'e\u0301', '👍🏽', '日']) {
      const line = typed(`x${g}`)
      line.backspace()
      expect(line.text, g).toBe('x')
    }
  })

  it('deletes the grapheme under the cursor with Delete', () => {
    const line = typed('a👨‍👩‍👧b', 1)
    line.deleteForward()
    expect(line.text).toBe('ab')
  })

  it('merges a skin tone typed after an emoji into one grapheme, cursor after it', () => {
    const line = typed('👍')
    line.insert('🏽')
    expect(line.cursor).toBe('👍🏽'.length)
    line.backspace()
    expect(line.text).toBe('')
  })

  it('kills to the end (C-k) and to the start (C-u), and yanks it back (C-y)', () => {
    const line = typed('hello world', 5)
    line.killToEnd()
    expect(line.text).toBe('hello')
    line.yank()
    expect(line.text).toBe('hello world')
    line.set('hello world', 6)
    line.killToStart()
    expect(line.text).toBe('world')
    expect(line.cursor).toBe(0)
  })

  it('kills the previous whitespace-separated word (C-w)', () => {
    const line = typed('see you.later  ')
    line.killWordBack()
    expect(line.text).toBe('see ')
  })

  it('moves by words (M-b, M-f) and kills the next word (M-d)', () => {
    const line = typed('one two-three')
    line.wordBack()
    expect(line.cursor).toBe(8)
    line.wordBack()
    expect(line.cursor).toBe(4)
    line.home()
    line.wordForward()
    expect(line.cursor).toBe(3)
    line.killWordForward()
    expect(line.text).toBe('one-three')
  })
})

describe('input history', () => {
  it('recalls earlier lines with ↑ and comes back to the draft with ↓', () => {
    const line = new InputLine()
    for (const t of ['first', 'second']) {
      line.insert(t)
      line.submit()
    }
    line.insert('draft')
    line.historyUp()
    expect(line.text).toBe('second')
    line.historyUp()
    expect(line.text).toBe('first')
    line.historyUp()
    expect(line.text).toBe('first')
    line.historyDown()
    line.historyDown()
    expect(line.text).toBe('draft')
  })

  it('does not store empty lines or the same line twice in a row', () => {
    const line = new InputLine()
    for (const t of ['a', 'a', '  ', 'b']) {
      line.insert(t)
      line.submit()
    }
    expect(line.historyEntries()).toEqual(['a', 'b'])
  })
})

describe('paste', () => {
  it('keeps a multi-line paste as one entry, whatever the newline convention', () => {
    const line = new InputLine()
    line.paste('line1\r\nline2\rline3\n')
    expect(line.text).toBe('line1\nline2\nline3')
    expect(line.submit()).toBe('line1\nline2\nline3')
  })

  it('inserts the paste at the cursor', () => {
    const line = typed('ab', 1)
    line.paste('XY')
    expect(line.text).toBe('aXYb')
    expect(line.cursor).toBe(3)
  })
})
