import { eastAsianWidth } from 'get-east-asian-width'
import stringWidth from 'string-width'
import { graphemes } from './graphemes.js'

/** How many terminal cells one grapheme takes. */
export type GraphemeWidth = (grapheme: string) => number

/**
 * Kinds of grapheme that terminals disagree about. tmux 3.3a, for example, draws 👍🏽 in 4 cells and ❤️ in 1,
 * where most terminals draw both in 2; and it draws a letter with its vowel signs (Thai กำ, a Devanagari
 * conjunct स्ते) as the sum of its code points, 2 cells, where `string-width` counts the cluster as 1 (`marks`).
 */
export const EmojiKind = {
  flag: 'flag',
  keycap: 'keycap',
  zwj: 'zwj',
  modifier: 'modifier',
  vs16: 'vs16',
  emoji: 'emoji',
  marks: 'marks',
} as const
export type EmojiKind = (typeof EmojiKind)[keyof typeof EmojiKind]

/** One sample of each kind, printed by the start-up probe to learn how this terminal draws it. */
export const EMOJI_SAMPLES: Record<EmojiKind, string> = {
  flag: '🇯🇵',
  keycap: '1️⃣',
  zwj: '👨‍👩‍👧',
  modifier: '👍🏽',
  vs16: '❤️',
  emoji: '😀',
  marks: 'กำ',
}

/**
 * How a terminal measures one kind: as `string-width` does, as the sum of its code points' widths, as its
 * first code point alone, or a fixed number of cells.
 */
export type WidthRule = 'string-width' | 'sum' | 'base' | number
export type TerminalWidths = Partial<Record<EmojiKind, WidthRule>>

export function emojiKind(grapheme: string): EmojiKind | undefined {
  if (grapheme.length < 2) return undefined
  if (/^\p{Regional_Indicator}{2}$/u.test(grapheme)) return 'flag'
  if (grapheme.includes('\u20e3')) return 'keycap'
  if (grapheme.includes('\u200d') && /\p{Extended_Pictographic}/u.test(grapheme)) return 'zwj'
  if (/\p{Emoji_Modifier}/u.test(grapheme)) return 'modifier'
  if (grapheme.includes('\ufe0f')) return 'vs16'
  if (/^\p{Extended_Pictographic}$/u.test(grapheme)) return 'emoji'
  // Any other cluster of several code points that is no emoji: a letter with its marks and vowel signs.
  if (!EMOJI.test(grapheme) && grapheme.length > (grapheme.codePointAt(0)! > 0xffff ? 2 : 1)) return 'marks'
  return undefined
}

const plainWidth = (text: string) =>
  stringWidth(text, { ambiguousIsNarrow: true, countAnsiEscapeCodes: true })

/** Cells the terminal reported for each kind's sample (`EMOJI_SAMPLES`). */
export type MeasuredWidths = Partial<Record<EmojiKind, number>>

/**
 * The rules that explain `measured`, each worked out the first time a grapheme of its kind is measured:
 * finding one runs `string-width` on an emoji, whose first such call compiles its emoji tables (30-50 ms),
 * which a start-up whose screen holds no emoji then does not pay.
 */
export function rulesFromProbe(measured: MeasuredWidths): TerminalWidths {
  const rules: TerminalWidths = {}
  for (const kind of Object.keys(measured) as EmojiKind[]) {
    Object.defineProperty(rules, kind, {
      enumerable: true,
      configurable: true,
      get() {
        const rule = ruleFromProbe(EMOJI_SAMPLES[kind], measured[kind]!)
        Object.defineProperty(rules, kind, { value: rule, enumerable: true })
        return rule
      },
    })
  }
  return rules
}

/** What string-width draws in no cells: its test of a cluster's visible part, for one code point. */
const ZERO_WIDTH =
  /[\p{Default_Ignorable_Code_Point}\p{Control}\p{Format}\p{Nonspacing_Mark}\p{Enclosing_Mark}\p{Surrogate}]/u
/** Code points that can be, or start, an emoji: string-width decides them. */
const EMOJI = /\p{Emoji}/u

/**
 * The width `string-width` gives a grapheme of one code point that is no emoji, found as it finds it (the
 * East Asian width of a visible code point, else 0) without its emoji tables, whose first use compiles them
 * (30-50 ms): a box-drawing line in the status bar made every start pay that. `undefined` for any other
 * grapheme. Checked against string-width over every code point once;
 * the unit test covers the BMP and a sample beyond.
 */
export function singleWidth(grapheme: string): number | undefined {
  const codePoint = grapheme.codePointAt(0)
  if (codePoint === undefined || grapheme.length !== (codePoint > 0xffff ? 2 : 1)) return undefined
  if (EMOJI.test(grapheme)) return undefined
  return ZERO_WIDTH.test(grapheme) ? 0 : eastAsianWidth(codePoint)
}

/** Picks the rule that explains the width a terminal reported for a sample. */
export function ruleFromProbe(sample: string, measured: number): WidthRule {
  if (plainWidth(sample) === measured) return 'string-width'
  const codePoints = [...sample]
  if (codePoints.reduce((sum, cp) => sum + plainWidth(cp), 0) === measured) return 'sum'
  if (plainWidth(codePoints[0] ?? '') === measured) return 'base'
  return measured
}

function applyRule(rule: WidthRule, grapheme: string): number {
  if (typeof rule === 'number') return rule
  if (rule === 'string-width') return plainWidth(grapheme)
  const codePoints = [...grapheme]
  if (rule === 'base') return plainWidth(codePoints[0] ?? '')
  return codePoints.reduce((sum, cp) => sum + plainWidth(cp), 0)
}

/**
 * The width function used by both the model (wrapping, cursor) and the view (stand-ins), so they always agree.
 * Without probe results it is `string-width`. A lone combining mark is 1 cell: the view shows it on a dotted circle.
 * @example graphemeWidth()('日') // 2
 */
export function graphemeWidth(terminal: TerminalWidths = {}): GraphemeWidth {
  const cache = new Map<string, number>()
  return (grapheme) => {
    const code = grapheme.charCodeAt(0)
    if (grapheme.length === 1 && code >= 0x20 && code < 0x7f) return 1
    let width = cache.get(grapheme)
    if (width !== undefined) return width
    const kind = emojiKind(grapheme)
    const rule = kind ? terminal[kind] : undefined
    width = rule !== undefined ? applyRule(rule, grapheme) : (singleWidth(grapheme) ?? plainWidth(grapheme))
    if (width === 0 && /^\p{M}/u.test(grapheme)) width = 1
    if (cache.size > 4096) cache.clear()
    cache.set(grapheme, width)
    return width
  }
}

/** Cells taken by a whole string under `width`. */
export function textWidth(text: string, width: GraphemeWidth): number {
  let total = 0
  for (const g of graphemes(text)) total += width(g)
  return total
}
