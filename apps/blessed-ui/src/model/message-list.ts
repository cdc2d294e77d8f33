import type { Row } from './rows.js'

export const DEFAULT_CAP = 10_000
/**
 * Entries whose rows are kept, the most recently shown: pages around the view need them again, but
 * rows kept for every entry ever shown grew with the whole scrollback (several times its text).
 */
export const LAID_CAP = 512

/** What the list needs from an entry: a stable id and a way to lay it out at a width. */
export interface ListEntry {
  readonly id: number
  /** Entries such as a moved read marker stay in place (ids stay contiguous) but take no rows. */
  hidden?: boolean
}

interface Laid {
  cols: number
  rows: Row[]
}

/** The bottom visible row while scrolled up: row `row` of entry `id`. */
interface Anchor {
  id: number
  row: number
}

export interface Page {
  /** Exactly `height` rows: the visible history, padded with empty rows at the bottom. */
  readonly rows: Row[]
  /** Whether the view is scrolled up (then new messages do not move it). */
  readonly scrolled: boolean
  /** Entries counted as new that arrived below the view while it was scrolled up. */
  readonly newBelow: number
}

/**
 * The scrollback: a capped list of entries (the oldest go first) with a scroll position that survives new
 * entries, trimming and resizes. Pure: layout is delegated to `layout`, and only entries near the view are laid out.
 */
export class MessageList<E extends ListEntry> {
  private entries: E[] = []
  private head = 0
  /** Rows of recently shown entries, least recently used first. */
  private readonly laid = new Map<E, Laid>()
  private anchor: Anchor | undefined
  private unseen = 0
  private cols = 80
  private height = 24
  private changes = 0

  constructor(
    private readonly layout: (entry: E, cols: number) => Row[],
    readonly cap = DEFAULT_CAP,
  ) {}

  /** How many entries' rows are kept (at most LAID_CAP). */
  get laidOut(): number {
    return this.laid.size
  }

  get size(): number {
    return this.entries.length - this.head
  }

  get scrolled(): boolean {
    return this.anchor !== undefined
  }

  get newBelow(): number {
    return this.unseenBelow()
  }

  /**
   * New entries still below the view: no more than the entries below the anchor (ids are contiguous), so
   * the count falls as the view moves down over them, and never names entries the cap dropped.
   */
  private unseenBelow(): number {
    if (!this.anchor || this.unseen === 0) return 0
    const last = this.last()
    return last === undefined ? 0 : Math.max(0, Math.min(this.unseen, last.id - this.anchor.id))
  }

  /** Counts changes to what the list shows (entries, scrolling); a new size is not one. */
  get revision(): number {
    return this.changes
  }

  /** Oldest first. */
  all(): E[] {
    return this.entries.slice(this.head)
  }

  last(): E | undefined {
    return this.entries[this.entries.length - 1]
  }

  /** Appends an entry; `countsAsNew` feeds the "new messages below" marker while scrolled up. */
  add(entry: E, countsAsNew = true): void {
    this.changes++
    this.entries.push(entry)
    if (this.anchor && countsAsNew) this.unseen++
    while (this.size > this.cap) this.head++
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
    if (this.anchor && this.indexOf(this.anchor.id) < 0) {
      this.anchor = { id: this.entries[this.head]!.id, row: 0 }
      this.fixTop()
    }
  }

  clear(): void {
    this.changes++
    this.entries = []
    this.head = 0
    this.laid.clear()
    this.anchor = undefined
    this.unseen = 0
  }

  /** A previously laid-out entry changed (hidden, renamed): lay it out again next time. */
  invalidate(entry: E): void {
    this.changes++
    this.laid.delete(entry)
  }

  setSize(cols: number, height: number): void {
    this.cols = Math.max(1, cols)
    this.height = Math.max(1, height)
  }

  scrollUp(rows: number): void {
    if (this.size === 0) return
    this.changes++
    let at = this.anchor ?? this.bottom()
    if (!at) return
    at = this.walkUp(at, rows)
    this.anchor = at
    this.fixTop()
  }

  scrollDown(rows: number): void {
    if (!this.anchor) return
    this.changes++
    let at = this.anchor
    let left = rows
    while (left > 0) {
      const count = this.rowsOf(at.id).length
      if (at.row + left < count) {
        at = { id: at.id, row: at.row + left }
        break
      }
      left -= Math.max(0, count - 1 - at.row)
      const next = this.nextVisible(at.id)
      if (next === undefined) {
        at = { id: at.id, row: Math.max(0, count - 1) }
        break
      }
      at = { id: next, row: 0 }
      left--
    }
    const end = this.bottom()
    if (!end || at.id > end.id || (at.id === end.id && at.row >= end.row)) this.scrollToBottom()
    else this.anchor = at
  }

  /** The oldest entry kept at the top of the page, laying out only the page: walking up to it laid out every entry. */
  scrollToTop(): void {
    const first = this.entries[this.head]
    if (!first) return
    const id = this.rowsOf(first.id).length > 0 ? first.id : this.nextVisible(first.id)
    if (id === undefined) return
    this.changes++
    this.anchor = { id, row: 0 }
    this.scrollDown(this.height - 1)
  }

  scrollToBottom(): void {
    if (this.anchor !== undefined || this.unseen !== 0) this.changes++
    this.anchor = undefined
    this.unseen = 0
  }

  /** The visible page at the current size and scroll position. */
  page(): Page {
    const bottom = this.anchor ?? this.bottom()
    const rows: Row[] = []
    if (bottom) {
      let id: number | undefined = bottom.id
      let upTo = bottom.row
      while (id !== undefined && rows.length < this.height) {
        const laid = this.rowsOf(id)
        for (let r = Math.min(upTo, laid.length - 1); r >= 0 && rows.length < this.height; r--)
          rows.push(laid[r]!)
        id = this.previousVisible(id)
        upTo = Number.POSITIVE_INFINITY
      }
      rows.reverse()
    }
    while (rows.length < this.height) rows.push([])
    return { rows, scrolled: this.anchor !== undefined, newBelow: this.unseenBelow() }
  }

  private rowsOf(id: number): Row[] {
    const entry = this.entry(id)
    if (!entry || entry.hidden) return []
    const cached = this.laid.get(entry)
    this.laid.delete(entry)
    const rows = cached && cached.cols === this.cols ? cached.rows : this.layout(entry, this.cols)
    this.laid.set(entry, { cols: this.cols, rows })
    if (this.laid.size > LAID_CAP) this.laid.delete(this.laid.keys().next().value!)
    return rows
  }

  private indexOf(id: number): number {
    const first = this.entries[this.head]
    if (!first) return -1
    const index = this.head + (id - first.id)
    return index >= this.head && index < this.entries.length ? index : -1
  }

  private entry(id: number): E | undefined {
    const index = this.indexOf(id)
    return index < 0 ? undefined : this.entries[index]
  }

  private previousVisible(id: number): number | undefined {
    for (let at = id - 1; this.indexOf(at) >= 0; at--) if (this.rowsOf(at).length > 0) return at
    return undefined
  }

  private nextVisible(id: number): number | undefined {
    for (let at = id + 1; this.indexOf(at) >= 0; at++) if (this.rowsOf(at).length > 0) return at
    return undefined
  }

  private bottom(): Anchor | undefined {
    const last = this.last()
    if (!last || this.size === 0) return undefined
    const id = this.rowsOf(last.id).length > 0 ? last.id : this.previousVisible(last.id)
    if (id === undefined) return undefined
    return { id, row: this.rowsOf(id).length - 1 }
  }

  private walkUp(from: Anchor, rows: number): Anchor {
    let at = from
    let left = rows
    while (left > 0) {
      if (at.row > 0) {
        const step = Math.min(at.row, left)
        at = { id: at.id, row: at.row - step }
        left -= step
        continue
      }
      const previous = this.previousVisible(at.id)
      if (previous === undefined) break
      at = { id: previous, row: this.rowsOf(previous).length - 1 }
      left--
    }
    return at
  }

  /** Scrolling past the oldest row would show a half-empty page: keep the page full instead. */
  private fixTop(): void {
    if (!this.anchor) return
    let at = this.anchor
    let above = 0
    while (above < this.height - 1) {
      const up = this.walkUp(at, 1)
      if (up.id === at.id && up.row === at.row) break
      at = up
      above++
    }
    if (above < this.height - 1) {
      this.anchor = at
      this.scrollDown(this.height - 1)
    }
  }
}
