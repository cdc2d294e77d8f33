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

/** One sample of each kind: the first the start-up probe prints to learn how this terminal draws it. */
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
 * What the start-up probe prints of each kind, `EMOJI_SAMPLES` first. A ZWJ sequence takes three: tmux 3.3a
 * draws one as wide as its part before the first joiner (👨‍👩‍👧 in 2 cells, 🏳️‍🌈 and ❤️‍🔥 in 1, 👩🏽‍💻 in 4), where most
 * terminals draw every one in 2, and a family alone cannot tell those apart.
 */
export const PROBE_SAMPLES: Record<EmojiKind, readonly string[]> = {
  flag: [EMOJI_SAMPLES.flag],
  keycap: [EMOJI_SAMPLES.keycap],
  zwj: [EMOJI_SAMPLES.zwj, '🏳️‍🌈', '👩🏽‍💻'],
  modifier: [EMOJI_SAMPLES.modifier],
  vs16: [EMOJI_SAMPLES.vs16],
  emoji: [EMOJI_SAMPLES.emoji],
  marks: [EMOJI_SAMPLES.marks],
}

/**
 * How a terminal measures one kind: as `string-width` does, as the sum of its code points' widths, as its
 * first code point alone, as its part before the first ZWJ would be drawn on its own (`head`, for ZWJ
 * sequences), or a fixed number of cells.
 */
export type WidthRule = 'string-width' | 'sum' | 'base' | 'head' | number
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

/** Cells the terminal reported for each kind's samples (`PROBE_SAMPLES`, in order; a number: the first). */
export type MeasuredWidths = Partial<Record<EmojiKind, number | readonly number[]>>

/**
 * The rules that explain `measured`, each worked out the first time a grapheme of its kind is measured:
 * finding one runs `string-width` on an emoji, whose first such call compiles its emoji tables (30-50 ms),
 * which a start-up whose screen holds no emoji then does not pay.
 */
export function rulesFromProbe(measured: MeasuredWidths): TerminalWidths {
  const rules: TerminalWidths = {}
  // A ZWJ sequence's head is measured by the rules of its own kind (🏳️ as vs16, 👩🏽 as modifier).
  const width = graphemeWidth(rules)
  for (const kind of Object.keys(measured) as EmojiKind[]) {
    Object.defineProperty(rules, kind, {
      enumerable: true,
      configurable: true,
      get() {
        const cells = measured[kind]!
        const list = typeof cells === 'number' ? [cells] : cells
        const rule = ruleFromSamples(PROBE_SAMPLES[kind].slice(0, list.length), list, width)
        Object.defineProperty(rules, kind, { value: rule, enumerable: true })
        return rule
      },
    })
  }
  return rules
}

/**
 * The first rule that explains every sample's measured width; when none does, the one that explains the
 * first sample (`ruleFromProbe`). `width` measures a ZWJ sequence's head, for the `head` rule.
 */
export function ruleFromSamples(
  samples: readonly string[],
  measured: readonly number[],
  width: GraphemeWidth,
): WidthRule {
  const candidates: WidthRule[] = ['string-width', 'sum', 'base']
  if (samples.every((sample) => sample.includes(ZWJ))) candidates.push('head')
  const first = ruleFromProbe(samples[0]!, measured[0]!)
  if (samples.length < 2) return first
  for (const rule of candidates)
    if (samples.every((sample, i) => applyRule(rule, sample, width) === measured[i])) return rule
  return first
}

const ZWJ = '\u200d'

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

/** `width` measures the part of a ZWJ sequence before its first joiner, for the `head` rule. */
function applyRule(rule: WidthRule, grapheme: string, width: GraphemeWidth): number {
  if (typeof rule === 'number') return rule
  if (rule === 'string-width') return plainWidth(grapheme)
  if (rule === 'head') {
    const joiner = grapheme.indexOf(ZWJ)
    // No joiner, or nothing before it: no head to measure, measured as string-width does.
    return joiner > 0 ? width(grapheme.slice(0, joiner)) : plainWidth(grapheme)
  }
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
  const measure: GraphemeWidth = (grapheme) => {
    const code = grapheme.charCodeAt(0)
    if (grapheme.length === 1 && code >= 0x20 && code < 0x7f) return 1
    let width = cache.get(grapheme)
    if (width !== undefined) return width
    const kind = emojiKind(grapheme)
    const rule = kind ? terminal[kind] : undefined
    width =
      rule !== undefined
        ? applyRule(rule, grapheme, measure)
        : (singleWidth(grapheme) ?? plainWidth(grapheme))
    if (width === 0 && /^\p{M}/u.test(grapheme)) width = 1
    if (cache.size > 4096) cache.clear()
    cache.set(grapheme, width)
    return width
  }
  return measure
}

/** Cells taken by a whole string under `width`. */
export function textWidth(text: string, width: GraphemeWidth): number {
  let total = 0
  for (const g of graphemes(text)) total += width(g)
  return total
}
