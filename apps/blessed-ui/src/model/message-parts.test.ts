import { MAX_BODY_LENGTH } from '@parley/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { graphemes } from '../text/graphemes.js'
import { messageParts, partsGoOn } from './message-parts.js'

/** Every boundary between two parts is either a dropped newline or a cut inside a line: undo both. */
function rejoin(text: string, parts: readonly string[]): string {
  let out = parts[0] ?? ''
  for (const part of parts.slice(1)) out += text.startsWith(`${out}\n`) ? `\n${part}` : part
  return out
}

describe('message parts of a draft', () => {
  it('keeps a draft that fits one message as one, newlines and all', () => {
    const paste = Array.from({ length: 900 }, (_, i) => `line ${i}`).join('\n')
    expect(paste.length).toBeLessThanOrEqual(MAX_BODY_LENGTH)
    expect(messageParts(paste)).toEqual([paste])
    expect(messageParts('x'.repeat(MAX_BODY_LENGTH))).toEqual(['x'.repeat(MAX_BODY_LENGTH)])
  })

  it('cuts a long paste between lines only, each part as full as whole lines make it', () => {
    // 3,000 lines of 57 characters, about 173 KB: what a pasted file gave as 18 cuts in mid-word.
    const lines = Array.from(
      { length: 3000 },
      (_, i) => `${String(i).padStart(4, '0')} ${'word '.repeat(10)}end.`,
    )
    const paste = lines.join('\n')
    const parts = messageParts(paste)
    expect(parts.join('\n')).toBe(paste)
    const whole = new Set(lines)
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(MAX_BODY_LENGTH)
      expect(part.split('\n').every((line) => whole.has(line))).toBe(true)
    }
    // Full: the next line would not have fitted.
    for (const part of parts.slice(0, -1))
      expect(part.length + 1 + lines[0]!.length).toBeGreaterThan(MAX_BODY_LENGTH)
    expect(parts).toHaveLength(19)
  })

  it('cuts a single line longer than a message at a space, and the lines around it stay whole', () => {
    const long = 'lorem ipsum '.repeat(20)
    const parts = messageParts(`before\n${long}\nafter`, 100)
    expect(parts[0]).toBe('before')
    for (const part of parts.slice(1, -1)) {
      expect(part.length).toBeLessThanOrEqual(100)
      expect(part.endsWith(' ')).toBe(true)
    }
    expect(parts.at(-1)).toMatch(/ \nafter$/)
    expect(rejoin(`before\n${long}\nafter`, parts)).toBe(`before\n${long}\nafter`)
  })

  it('cuts a line without spaces between graphemes, never inside a surrogate pair or a cluster', () => {
    const family = '👨‍👩‍👧'
    const line = `${'a'.repeat(95)}${family.repeat(20)}😀`.repeat(3)
    const parts = messageParts(line, 100)
    expect(parts.join('')).toBe(line)
    const whole = new Set(graphemes(line))
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(100)
      for (const g of graphemes(part)) expect(whole.has(g)).toBe(true)
    }
    expect(messageParts('😀'.repeat(60), 101)).toEqual(['😀'.repeat(50), '😀'.repeat(10)])
  })

  it('keeps an empty line between two parts with the lines after it', () => {
    const full = 'x'.repeat(20)
    expect(messageParts(`${full}\n\nnext`, 20)).toEqual([full, '\nnext'])
    expect(messageParts(`${full}\n\n${'y'.repeat(30)}`, 20)).toEqual([
      full,
      `\n${'y'.repeat(19)}`,
      'y'.repeat(11),
    ])
  })

  it('loses nothing and keeps the order, whatever the text', () => {
    const char = fc.constantFrom('a', 'b', ' ', '\n', '\n', 'é', 'e\u0301', '😀', '👨‍👩‍👧', '🇯🇵', '日')
    fc.assert(
      fc.property(fc.array(char, { maxLength: 400 }), fc.integer({ min: 12, max: 60 }), (chars, limit) => {
        const text = chars.join('')
        const parts = messageParts(text, limit)
        if (text.length <= limit) {
          expect(parts).toEqual([text])
          return
        }
        const whole = new Set(graphemes(text))
        for (const part of parts) {
          expect(part.length).toBeGreaterThan(0)
          expect(part.length).toBeLessThanOrEqual(limit)
          for (const g of graphemes(part))
            expect(whole.has(g), `${JSON.stringify(g)} in ${JSON.stringify(part)}`).toBe(true)
        }
        // Only an empty last line may go.
        const back = rejoin(text, parts)
        expect(back === text || (text.endsWith('\n') && back === text.slice(0, -1))).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('says which parts were cut inside a line, so that a receiver joins them back into that line', () => {
    const long = 'x'.repeat(45)
    const text = `before\n${long}\nafter`
    const parts = messageParts(text, 20)
    expect(parts).toEqual(['before', 'x'.repeat(20), 'x'.repeat(20), `${'x'.repeat(5)}\nafter`])
    expect(partsGoOn(text, parts)).toEqual([false, true, true, false])
    fc.assert(
      fc.property(fc.stringMatching(/^[ab\n]{0,300}$/), fc.integer({ min: 12, max: 60 }), (text, limit) => {
        const parts = messageParts(text, limit)
        const goOn = partsGoOn(text, parts)
        // Joined where a part goes on, a newline where it ends its line: the draft (its empty last line aside).
        const back = parts.map((part, i) => part + (i < parts.length - 1 && !goOn[i] ? '\n' : '')).join('')
        expect(back === text || (text.endsWith('\n') && back === text.slice(0, -1))).toBe(true)
        expect(goOn.at(-1)).toBe(false)
      }),
      { numRuns: 300 },
    )
  })
})
