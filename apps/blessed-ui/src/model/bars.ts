/**
 * The two rows under the messages: the status bar and the input line as shown, scrolled sideways so the
 * cursor stays visible. Apart from ChatModel because they are pure layout of state kept elsewhere
 * (ConnectionStatus, InputLine); the only state here is how far the input row is scrolled.
 */
import { terminalLine, terminalSafe } from '@parley/launcher'
import { graphemes } from '../text/graphemes.js'
import { type GraphemeWidth, textWidth } from '../text/width.js'
import type { InputLine } from './input-line.js'
import { fitCells, type Row, type Span, type Style, TEXT } from './rows.js'
import type { StatusSummary } from './status.js'

const PROMPT = '> '

/** The status bar: state, plain-mode warning, peer, your name and listen address, undelivered count. */
export function statusRow(
  s: StatusSummary,
  cols: number,
  self: { readonly name: string; readonly secure: boolean },
  width: GraphemeWidth,
): Row {
  const tone =
    s.state === 'connected'
      ? 'ok'
      : s.state === 'listening'
        ? 'idle'
        : s.state === 'failed' || s.state === 'closed'
          ? 'bad'
          : 'busy'
  const plain: Style = { kind: 'status-text' }
  const head: Span[] = [{ text: ` ${s.state} `, style: { kind: 'status', tone } }]
  if (!self.secure) head.push({ text: ' PLAIN: not encrypted ', style: { kind: 'status', tone: 'bad' } })
  const tail: Span[] = s.undelivered > 0 ? [{ text: `│ ${s.undelivered} undelivered `, style: plain }] : []
  // On a narrow terminal the state and the undelivered count stay whole: the peer's and your own
  // segments give way, yours first, each cut with `…` rather than at a word, so no lone `│`, `@` or
  // bare count is left.
  let room = cols - spansCells(head, width) - spansCells(tail, width)
  const middle: Span[] = []
  if (s.peer) {
    // One row: a tab or a newline in a name or an address is shown as ^I or ^J, as many cells as counted,
    // never expanded or broken where the cut did not count it.
    const who = terminalLine(s.peer.name ? `${s.peer.name} ${s.peer.address}` : s.peer.address)
    const shown = fitSegment(` ${who}${s.others > 0 ? ` (+${s.others})` : ''} `, room, width)
    if (shown) middle.push({ text: shown, style: plain })
    room -= textWidth(shown, width)
  }
  const mine = fitSegment(`│ ${terminalLine(`${self.name} @ ${s.listen ?? '…'}`)} `, room, width)
  if (mine) middle.push({ text: mine, style: plain })
  return fitRow([...head, ...middle, ...tail], cols, plain, width)
}

function spansCells(spans: readonly Span[], width: GraphemeWidth): number {
  return spans.reduce((n, span) => n + textWidth(span.text, width), 0)
}

/** Shortest segment worth showing cut, `│ al… `: shorter, only its separator and `…` were left. */
const MIN_CUT_SEGMENT = 6

/** A segment of the bar in at most `cells` cells: whole, cut with `…` and a space, or nothing. */
function fitSegment(text: string, cells: number, width: GraphemeWidth): string {
  if (textWidth(text, width) <= cells) return text
  if (cells < MIN_CUT_SEGMENT) return ''
  const cut = fitCells(text.trimEnd(), cells - 1, width)
  // A first character too wide for the room (👍🏽 takes 4 cells in tmux) leaves only the separator and `…`.
  // Escaped: the bundle is written as Latin-1, and esbuild leaves a regular expression's characters as they are.
  return /[^\s\u2502\u2026]/u.test(cut) ? `${cut} ` : ''
}

/** The spans cut to exactly `cols` cells: padded, or cut with `…` where they overflow. */
function fitRow(spans: readonly Span[], cols: number, pad: Style, width: GraphemeWidth): Row {
  const row: Span[] = []
  let left = cols
  for (const span of spans) {
    const cells = textWidth(span.text, width)
    if (cells > left) {
      const cut = fitCells(span.text, left, width)
      if (cut) row.push({ text: cut, style: span.style })
      left -= textWidth(cut, width)
      break
    }
    row.push(span)
    left -= cells
  }
  if (left > 0) row.push({ text: ' '.repeat(left), style: pad })
  return row
}

/** `> ` and the line being typed, scrolled sideways to keep the cursor in view. */
export class InputRow {
  private scroll = 0
  /** The room the scroll was chosen for: a resize chooses it again. */
  private room = -1

  constructor(private readonly width: GraphemeWidth) {}

  layout(input: InputLine, cols: number): { row: Row; cursor: number } {
    const room = Math.max(1, cols - PROMPT.length - 1)
    const parts = graphemes(input.text).map((g) => {
      const shown = g === '\n' ? '↵' : g === '\t' ? '→' : terminalSafe(g)
      return { shown, w: textWidth(shown, this.width), hint: g === '\n' || g === '\t' }
    })
    let cursorCells = 0
    let at = 0
    for (const g of graphemes(input.text)) {
      if (at >= input.cursor) break
      at += g.length
      cursorCells++
    }
    // cursorCells counts graphemes before the cursor; turn it into cells.
    const before = parts.slice(0, cursorCells).reduce((n, p) => n + p.w, 0)
    // The grapheme under the cursor is shown whole, as the one C-d would delete; at the end of the line
    // the cursor has the cell after the room to itself.
    const under = parts[cursorCells]?.w ?? 0
    if (before < this.scroll) this.scroll = Math.max(0, before - Math.floor(room / 4))
    if (before + under > this.scroll + room) this.scroll = before + under - room + Math.floor(room / 4)
    if (room !== this.room) {
      // Kept from another width, the scroll would hide the start of a draft that now fits, or leave
      // empty cells after its end: show as much of it as fits, the cursor still in view.
      const total = parts.reduce((n, p) => n + p.w, 0)
      this.scroll = Math.min(this.scroll, Math.max(0, total - room))
      this.room = room
    }
    const spans: Span[] = [{ text: PROMPT, style: { kind: 'own' } }]
    let x = 0
    let used = 0
    let shownFrom = -1
    for (const p of parts) {
      const start = x
      x += p.w
      if (start < this.scroll) continue
      if (shownFrom < 0) shownFrom = start
      if (used + p.w > room) break
      spans.push({ text: p.shown, style: p.hint ? { kind: 'hint' } : TEXT })
      used += p.w
    }
    if (shownFrom < 0) shownFrom = Math.min(this.scroll, before)
    return { row: spans, cursor: PROMPT.length + before - shownFrom }
  }
}
