import { graphemes } from '../text/graphemes.js'
import type { GraphemeWidth } from '../text/width.js'

/** How a piece of text looks; the view maps each style to colours. `nick` carries a palette index. */
export type Style =
  | { readonly kind: 'text' }
  | { readonly kind: 'time' }
  | { readonly kind: 'nick'; readonly colour: number }
  | { readonly kind: 'own' }
  | { readonly kind: 'action'; readonly colour: number }
  | { readonly kind: 'mention' }
  | { readonly kind: 'info' }
  | { readonly kind: 'warn' }
  | { readonly kind: 'marker' }
  | { readonly kind: 'hint' }
  | { readonly kind: 'status'; readonly tone: 'ok' | 'busy' | 'idle' | 'bad' }
  | { readonly kind: 'status-text' }

export interface Span {
  readonly text: string
  readonly style: Style
}

/** One screen row: spans whose total width never exceeds the row it was laid out for. */
export type Row = readonly Span[]

export const TEXT: Style = { kind: 'text' }

interface Cell {
  readonly g: string
  readonly w: number
  readonly style: Style
}

/** Tabs become spaces for display; everything else was made terminal-safe before it got here. */
export function displayGraphemes(text: string): string[] {
  return graphemes(text.includes('\t') ? text.replace(/\t/g, '    ') : text)
}

function cellsOf(spans: readonly Span[], width: GraphemeWidth, cols: number): Cell[] {
  const cells: Cell[] = []
  for (const span of spans) {
    for (const g of displayGraphemes(span.text)) {
      const w = width(g)
      if (w === 0) continue
      // A grapheme wider than the whole row can never be placed: show a marker instead.
      if (w > cols) cells.push({ g: '?', w: 1, style: span.style })
      else cells.push({ g, w, style: span.style })
    }
  }
  return cells
}

// Each span's text is joined once: added a cell at a time it was a rope of one 32-byte node per
// character, and the pane keeps the rows of the entries it showed last.
function toRow(cells: readonly Cell[]): Row {
  const row: Span[] = []
  let text: string[] = []
  let style: Style | undefined
  for (const cell of cells) {
    if (style !== undefined && cell.style !== style) {
      row.push({ text: text.join(''), style })
      text = []
    }
    style = cell.style
    text.push(cell.g)
  }
  const last = text.join('')
  if (style !== undefined && last !== '') row.push({ text: last, style })
  return row
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/**
 * The row for spans that fit in `cols` as they are, which most lines do: no tab to expand, no grapheme of
 * zero width to drop. The same row as the cell by cell layout gives, without a cell per grapheme.
 */
function oneRow(spans: readonly Span[], cols: number, width: GraphemeWidth): Span[] | undefined {
  let used = 0
  const row: Span[] = []
  for (const span of spans) {
    if (span.text === '') continue
    if (PRINTABLE_ASCII.test(span.text)) used += span.text.length
    else {
      if (span.text.includes('\t')) return undefined
      for (const g of graphemes(span.text)) {
        const w = width(g)
        if (w === 0) return undefined
        used += w
      }
    }
    if (used > cols) return undefined
    const last = row[row.length - 1]
    if (last !== undefined && last.style === span.style)
      row[row.length - 1] = { text: last.text + span.text, style: span.style }
    else row.push(span)
  }
  return row
}

/** `text` cut to at most `cells` cells, ending in `…` when it was cut (as wide as it is when it fits). */
export function fitCells(text: string, cells: number, width: GraphemeWidth): string {
  const gs = displayGraphemes(text)
  let total = 0
  for (const g of gs) total += width(g)
  if (total <= cells) return text
  if (cells < 1) return ''
  let out = ''
  let used = 0
  for (const g of gs) {
    const w = width(g)
    if (used + w > cells - 1) break
    out += g
    used += w
  }
  return `${out}…`
}

/** Never at the start of a row: CJK closing punctuation, the prolonged sound mark and small kana. */
const NO_BREAK_BEFORE = new Set([
  ...'、。，．・：；？！ー）」』】〕〉》〙〗ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ',
])
/** Never at the end of a row: CJK opening brackets. */
const NO_BREAK_AFTER = new Set([...'（「『【〔〈《〘〖'])

function mayBreakBetween(before: string, after: string): boolean {
  return !NO_BREAK_AFTER.has(before) && !NO_BREAK_BEFORE.has(after)
}

/** The least a continuation row is indented by, where the indent under the text would take too much. */
export const MIN_CONTINUATION_INDENT = 4

/**
 * How far rows after the first are indented: under the text (`indent`) while that leaves half the pane,
 * else a few cells. Never 0 once there is text before it: a row that starts at column 0 reads as a new line
 * with its own time and sender, so a peer with a long name could write one that looks like someone else's.
 */
export function continuationIndent(indent: number, cols: number): number {
  if (indent <= 0) return 0
  const pad = indent <= cols / 2 ? indent : Math.min(MIN_CONTINUATION_INDENT, Math.floor(cols / 2))
  // A row must keep room for a wide character after its indent (a pane of 2 or 3 columns has no other).
  return cols - pad >= 2 ? pad : 0
}

/**
 * Lays out one logical line in rows of at most `cols` cells, breaking after spaces and around wide
 * characters when it can and inside words when it must. Rows after the first start with `continuationIndent(indent, cols)` spaces.
 */
export function wrap(spans: readonly Span[], cols: number, width: GraphemeWidth, indent = 0): Row[] {
  if (cols < 1) return []
  const whole = oneRow(spans, cols, width)
  return whole ? [whole] : wrapCells(spans, cols, width, indent)
}

/** `wrap` a cell at a time: what `wrap` does for a line that needs more than one row (exported for tests). */
export function wrapCells(spans: readonly Span[], cols: number, width: GraphemeWidth, indent = 0): Row[] {
  if (cols < 1) return []
  const cells = cellsOf(spans, width, cols)
  const pad = continuationIndent(indent, cols)
  const rows: Row[] = []
  let start = 0
  let first = true
  while (start < cells.length || first) {
    const room = first ? cols : cols - pad
    let used = 0
    let end = start
    let lastBreak = -1
    while (end < cells.length && used + cells[end]!.w <= room) {
      const cell = cells[end]!
      // Wide characters (CJK ideographs, kana, emoji) may be broken between: a run of them is not one
      // long word. Closing punctuation and small kana stay with what comes before them, opening brackets
      // with what follows, as in Unicode's line breaking.
      if (cell.w >= 2 && end > start && mayBreakBetween(cells[end - 1]!.g, cell.g)) lastBreak = end
      used += cell.w
      const next = cells[end + 1]?.g
      if (cell.g === ' ' || (cell.w >= 2 && (next === undefined || mayBreakBetween(cell.g, next))))
        lastBreak = end + 1
      end++
    }
    // Only a pane narrower than one wide character gets here; move on rather than loop forever.
    if (end === start && start < cells.length) end = start + 1
    let skipSpace = false
    if (end < cells.length) {
      if (cells[end]!.g === ' ') skipSpace = true
      // A word after a space that would not fit a row of its own either (a long URL) is broken where the
      // row ends: moved down whole, it left its sender's name alone on a row.
      else if (
        lastBreak > start &&
        !(cells[lastBreak - 1]!.g === ' ' && wordOver(cells, lastBreak, cols - pad))
      )
        end = lastBreak
    }
    const piece = cells.slice(start, end)
    rows.push(first || pad === 0 ? toRow(piece) : [{ text: ' '.repeat(pad), style: TEXT }, ...toRow(piece)])
    first = false
    start = skipSpace ? end + 1 : end
  }
  return rows
}

/** Whether the word that starts at cell `from` (up to the next space) takes more than `room` cells. */
function wordOver(cells: readonly { g: string; w: number }[], from: number, room: number): boolean {
  let used = 0
  for (let i = from; i < cells.length && cells[i]!.g !== ' '; i++) {
    used += cells[i]!.w
    if (used > room) return true
  }
  return false
}

/** Cells used by a row. */
export function rowWidth(row: Row, width: GraphemeWidth): number {
  let total = 0
  for (const span of row) for (const g of displayGraphemes(span.text)) total += width(g)
  return total
}

/** Plain text of a row (for tests and captures). */
export function rowText(row: Row): string {
  return row.map((s) => s.text).join('')
}
