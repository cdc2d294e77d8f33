/**
 * East Asian Wide and Fullwidth code points that are not emoji (Unicode 16, from its EastAsianWidth.txt),
 * as pairs of first and last; unassigned gaps between them are taken in, as terminals draw them wide too.
 */
const WIDE = [
  0x1100, 0x115f, 0x2329, 0x232a, 0x2630, 0x2637, 0x268a, 0x268f, 0x2e80, 0x303e, 0x3041, 0x3247, 0x3250,
  0xa4c6, 0xa960, 0xa97c, 0xac00, 0xd7a3, 0xf900, 0xfaff, 0xfe10, 0xfe19, 0xfe30, 0xfe6b, 0xff01, 0xff60,
  0xffe0, 0xffe6, 0x16fe0, 0x1b2fb, 0x1d300, 0x1d376, 0x1f1ae, 0x1f265, 0x1f6d9, 0x1f6d9, 0x1f7da, 0x1f7da,
  0x1fa8b, 0x1fafa, 0x20000, 0x3fffd,
] as const

/** Drawn in no column of their own: combining marks, format characters (ZWJ, bidi marks), Hangul vowels and finals. */
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}\p{Cc}\p{Default_Ignorable_Code_Point}\u1160-\u11ff\ud7b0-\ud7ff]/u
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u
const PICTOGRAPH = /\p{Extended_Pictographic}/u
const MODIFIER = /\p{Emoji_Modifier}/u
const ZWJ = 0x200d
const VS16 = 0xfe0f

/**
 * The terminal columns `text` takes, as most terminals draw it: East Asian wide and fullwidth characters
 * and emoji take 2, combining marks, joiners and variation selectors none, a ZWJ sequence (👩‍💻), a flag
 * and an emoji with its skin tone take the 2 of one emoji, and the rest (East Asian ambiguous ones too) 1.
 * No tables beyond the few ranges above: it runs in the bundled CLI, whose start-up should not pay for them.
 * @example displayWidth('<東京猫> ') // 9
 */
export function displayWidth(text: string): number {
  let width = 0
  // What the code point before left open: a joiner that makes the next pictograph part of this glyph, a
  // narrow emoji that VS16 draws wide (❤️, 1️⃣), an emoji that a skin tone modifies, a first regional indicator.
  let joined = false
  let narrowEmoji = false
  let emoji = false
  let flagOpen = false
  for (const ch of text) {
    const code = ch.codePointAt(0) as number
    if (code >= 0x20 && code < 0x7f) {
      width++
      narrowEmoji = (code >= 0x30 && code <= 0x39) || code === 0x23 || code === 0x2a
      joined = emoji = flagOpen = false
      continue
    }
    if (code === ZWJ) {
      joined = emoji
      continue
    }
    if (code === VS16) {
      if (narrowEmoji) width++
      narrowEmoji = false
      continue
    }
    if (ZERO_WIDTH.test(ch)) continue
    const pictograph = PICTOGRAPH.test(ch)
    if (joined && pictograph) {
      joined = false
      continue
    }
    // A skin tone draws the emoji before it as an emoji (✌🏽), wide, and takes no column of its own.
    if (emoji && MODIFIER.test(ch)) {
      if (narrowEmoji) width++
      narrowEmoji = false
      continue
    }
    joined = false
    if (code >= 0x1f1e6 && code <= 0x1f1ff) {
      if (!flagOpen) width += 2
      flagOpen = !flagOpen
      emoji = !flagOpen
      narrowEmoji = false
      continue
    }
    flagOpen = false
    const wide = isWide(code) || EMOJI_PRESENTATION.test(ch)
    width += wide ? 2 : 1
    narrowEmoji = !wide && pictograph
    emoji = pictograph
  }
  return width
}

function isWide(code: number): boolean {
  if (code < WIDE[0]) return false
  for (let i = 0; i < WIDE.length; i += 2) {
    if (code < WIDE[i]!) return false
    if (code <= WIDE[i + 1]!) return true
  }
  return false
}
