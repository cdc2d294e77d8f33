import blessed from 'blessed'
import { describe, expect, it } from 'vitest'
import { graphemes } from '../text/graphemes.js'
import { graphemeWidth, textWidth } from '../text/width.js'
import { type BlessedUnicode, CONTINUATION, StandIns, terminalWrites } from './stand-ins.js'

const unicode = (blessed as unknown as { unicode: BlessedUnicode & { strWidth(text: string): number } })
  .unicode
const width = graphemeWidth()
const SAMPLES = [
  'plain text',
  '日本語 and 한국어',
  '😀 🎉 👍🏽 👨‍👩‍👧 🇯🇵 1️⃣ ❤️',
  'café cafe\u0301 Zürich',
  'mixed 😀日本😀 end',
]

/** Width as blessed measures it: its own function, plus one cell per filler it adds after a wide stand-in. */
const blessedWidth = (text: string) => [...text].reduce((n, ch) => n + unicode.charWidth(ch, 0), 0)

describe('stand-ins', () => {
  it('leaves ASCII alone', () => {
    const standIns = new StandIns(width, unicode)
    expect(standIns.encode('hello <bob> {x}')).toBe('hello <bob> {x}')
  })

  it('gives blessed text it measures exactly as the terminal will draw it', () => {
    const standIns = new StandIns(width, unicode)
    for (const text of SAMPLES) {
      const encoded = standIns.encode(text)
      expect(blessedWidth(encoded), text).toBe(textWidth(text, width))
      // Only single BMP code points reach blessed.
      expect(
        [...encoded].every((ch) => ch.length === 1),
        text,
      ).toBe(true)
    }
  })

  it('gets the real text back on the way out', () => {
    const standIns = new StandIns(width, unicode)
    for (const text of SAMPLES) expect(standIns.decode(standIns.encode(text))).toBe(text)
  })

  it('keeps real Yi, CJK Extension A and private-use characters intact', () => {
    const standIns = new StandIns(width, unicode)
    const text = 'ꀀ ꒌ 㐀 䶿 \ue000'
    const encoded = standIns.encode(text)
    expect(standIns.decode(encoded)).toBe(text)
    expect(blessedWidth(encoded)).toBe(textWidth(text, width))
  })

  it('reserves continuation cells for a grapheme the terminal draws four cells wide', () => {
    const tmux = graphemeWidth({ modifier: 'sum' })
    const standIns = new StandIns(tmux, unicode)
    const encoded = standIns.encode('👍🏽!')
    expect(encoded.length).toBe(3)
    expect(encoded.charCodeAt(1)).toBe(CONTINUATION)
    expect(blessedWidth(encoded)).toBe(5)
    expect(standIns.decode(encoded)).toBe('👍🏽!')
  })

  it('drops zero-width leftovers and shows a lone combining mark on a dotted circle', () => {
    const standIns = new StandIns(width, unicode)
    expect(standIns.decode(standIns.encode('a\u200bb'))).toBe('ab')
    expect(standIns.decode(standIns.encode('\u0301'))).toBe('\u25cc\u0301')
  })

  it('starts over with a new generation when every stand-in is used', () => {
    const standIns = new StandIns(width, unicode)
    const before = standIns.generation
    // More distinct wide graphemes than both wide pools hold.
    for (let cp = 0x20000; cp < 0x20000 + 8000; cp++) standIns.encode(String.fromCodePoint(cp))
    expect(standIns.generation).toBe(before + 1)
    expect(standIns.decode(standIns.encode('𠀀'))).toBe('𠀀')
  })
})

describe('terminal writes', () => {
  it('stays under 2000 bytes per write and never cuts a grapheme', () => {
    const standIns = new StandIns(width, unicode)
    const text = `${'x'.repeat(1999)}${'👨‍👩‍👧 日本 é '.repeat(400)}`
    const writes = terminalWrites(standIns.encode(text), standIns)
    expect(writes.join('')).toBe(text)
    for (const write of writes) {
      expect(Buffer.byteLength(write)).toBeLessThanOrEqual(2000)
      const parts = graphemes(write)
      // The last grapheme of a write is complete: it is the same when the write is joined with the next one.
      expect(parts[parts.length - 1]).not.toMatch(/\u200d$/)
    }
  })
})
