import { boundaries, graphemes } from '../text/graphemes.js'

const WORD = /^[\p{L}\p{N}_]/u
const HISTORY_LIMIT = 500

/**
 * The line being typed, edited with emacs keys. The cursor is a UTF-16 offset that always sits on a grapheme
 * boundary, so no key ever splits "👨‍👩‍👧" or "é". Multi-line text (from a paste) stays one entry.
 */
export class InputLine {
  private value = ''
  private at = 0
  private readonly history: string[] = []
  /** Position in `history` while browsing with ↑/↓; `history.length` means the line being written. */
  private browsing = 0
  private draft = ''
  private killed = ''

  get text(): string {
    return this.value
  }

  /** Cursor offset in UTF-16 units. */
  get cursor(): number {
    return this.at
  }

  /** Replaces the whole line, cursor at the end (used by completion and history). */
  set(text: string, cursor = text.length): void {
    this.value = text
    this.at = this.snap(cursor)
  }

  insert(text: string): void {
    this.value = this.value.slice(0, this.at) + text + this.value.slice(this.at)
    // Typing a skin tone or a joiner after an emoji merges them into one grapheme: keep the cursor after it.
    this.at = this.snap(this.at + text.length, 'forward')
  }

  /** A bracketed paste: newlines of any convention become \n, a trailing newline is dropped, one message results. */
  paste(text: string): void {
    const normal = text.replace(/\r\n?/g, '\n').replace(/\n$/, '')
    this.insert(normal)
  }

  backspace(): void {
    const b = boundaries(this.value)
    const i = b.indexOf(this.at)
    if (i <= 0) return
    this.cut(b[i - 1]!, this.at, false)
  }

  deleteForward(): void {
    const b = boundaries(this.value)
    const i = b.indexOf(this.at)
    if (i < 0 || i >= b.length - 1) return
    this.cut(this.at, b[i + 1]!, false)
  }

  left(): void {
    const b = boundaries(this.value)
    const i = b.indexOf(this.at)
    if (i > 0) this.at = b[i - 1]!
  }

  right(): void {
    const b = boundaries(this.value)
    const i = b.indexOf(this.at)
    if (i >= 0 && i < b.length - 1) this.at = b[i + 1]!
  }

  home(): void {
    this.at = 0
  }

  end(): void {
    this.at = this.value.length
  }

  /** C-k */
  killToEnd(): void {
    this.cut(this.at, this.value.length, true)
  }

  /** C-u */
  killToStart(): void {
    this.cut(0, this.at, true)
  }

  /** C-w: back to the previous whitespace, as in bash. */
  killWordBack(): void {
    const parts = this.before()
    let i = parts.length
    while (i > 0 && /^\s/u.test(parts[i - 1]!)) i--
    while (i > 0 && !/^\s/u.test(parts[i - 1]!)) i--
    this.cut(parts.slice(0, i).join('').length, this.at, true)
  }

  /** M-d */
  killWordForward(): void {
    const from = this.at
    this.wordForward()
    const to = this.at
    this.at = from
    this.cut(from, to, true)
  }

  /** C-y: puts back the last killed text. */
  yank(): void {
    if (this.killed) this.insert(this.killed)
  }

  /** M-b: to the start of the previous word. */
  wordBack(): void {
    const parts = this.before()
    let i = parts.length
    while (i > 0 && !WORD.test(parts[i - 1]!)) i--
    while (i > 0 && WORD.test(parts[i - 1]!)) i--
    this.at = parts.slice(0, i).join('').length
  }

  /** M-f: to the end of the next word. */
  wordForward(): void {
    const parts = graphemes(this.value.slice(this.at))
    let i = 0
    while (i < parts.length && !WORD.test(parts[i]!)) i++
    while (i < parts.length && WORD.test(parts[i]!)) i++
    this.at += parts.slice(0, i).join('').length
  }

  historyUp(): void {
    if (this.browsing === 0) return
    if (this.browsing === this.history.length) this.draft = this.value
    this.browsing--
    this.set(this.history[this.browsing]!)
  }

  historyDown(): void {
    if (this.browsing >= this.history.length) return
    this.browsing++
    this.set(this.browsing === this.history.length ? this.draft : this.history[this.browsing]!)
  }

  /** Takes the line (for Enter): it goes into the history and the editor is emptied. */
  submit(): string {
    const line = this.value
    if (line.trim() !== '' && this.history[this.history.length - 1] !== line) {
      this.history.push(line)
      if (this.history.length > HISTORY_LIMIT) this.history.shift()
    }
    this.browsing = this.history.length
    this.draft = ''
    this.set('')
    return line
  }

  historyEntries(): readonly string[] {
    return this.history
  }

  private before(): string[] {
    return graphemes(this.value.slice(0, this.at))
  }

  private cut(from: number, to: number, keep: boolean): void {
    if (to <= from) return
    if (keep) this.killed = this.value.slice(from, to)
    this.value = this.value.slice(0, from) + this.value.slice(to)
    this.at = from
  }

  private snap(offset: number, direction: 'back' | 'forward' = 'back'): number {
    const b = boundaries(this.value)
    const clamped = Math.max(0, Math.min(offset, this.value.length))
    if (b.includes(clamped)) return clamped
    if (direction === 'forward') return b.find((x) => x > clamped) ?? this.value.length
    let best = 0
    for (const x of b) if (x < clamped) best = x
    return best
  }
}
