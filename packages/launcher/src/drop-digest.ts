import type { StatusLine } from './session.js'

export interface DropDigestOptions {
  /** Lines shown in full per window; the rest are counted. Default 5. */
  readonly burst?: number
  /** Default 10,000 ms. */
  readonly windowMs?: number
  /** Where every dropped connection is written, named in the summary line. */
  readonly log?: string
  readonly now?: () => number
  /** Runs the summary when the window ends; the default timer never keeps the process alive. */
  readonly schedule?: (callback: () => void, ms: number) => void
  /** The summary of `hidden` lines in `seconds`; by default, of dropped connections (with `log`). */
  readonly summary?: (hidden: number, seconds: number) => string
}

/**
 * Keeps the status lines about dropped connections readable under attack: the first few in each window
 * are shown, the rest only counted and summed up in one line when the window ends (the log has each one).
 * @example const drops = new DropDigest((line) => print(line), { log: 'parley.log' }); drops.push(status)
 */
export class DropDigest {
  private readonly burst: number
  private readonly windowMs: number
  private readonly now: () => number
  private readonly schedule: (callback: () => void, ms: number) => void
  private windowStart = Number.NEGATIVE_INFINITY
  private shown = 0
  private hidden = 0
  private summaryDue = false

  constructor(
    private readonly show: (line: StatusLine) => void,
    private readonly options: DropDigestOptions = {},
  ) {
    this.burst = options.burst ?? 5
    this.windowMs = options.windowMs ?? 10_000
    this.now = options.now ?? Date.now
    this.schedule = options.schedule ?? ((callback, ms) => setTimeout(callback, ms).unref())
  }

  push(line: StatusLine): void {
    const now = this.now()
    if (now - this.windowStart >= this.windowMs) {
      this.summarize()
      this.windowStart = now
      this.shown = 0
    }
    if (this.shown < this.burst) {
      this.shown++
      this.show(line)
      return
    }
    this.hidden++
    if (this.summaryDue) return
    this.summaryDue = true
    this.schedule(
      () => {
        this.summaryDue = false
        this.summarize()
      },
      this.windowStart + this.windowMs - now,
    )
  }

  private summarize(): void {
    if (this.hidden === 0) return
    const seconds = Math.round(this.windowMs / 1000)
    const where = this.options.log ? `; each one is in ${this.options.log}` : ''
    const text =
      this.options.summary?.(this.hidden, seconds) ??
      `${this.hidden} more connection(s) dropped in the last ${seconds} s${where}`
    this.show({ level: 'warn', text })
    this.hidden = 0
  }
}

/**
 * The events whose lines a member's churn can repeat: links coming and going, joins and renames, and a
 * neighbour's claim that it has more of our stream than we made (`forked`: once per neighbour, so once per
 * throwaway key that makes it).
 */
export function isMemberNews(event: { readonly type: string }): boolean {
  return (
    event.type === 'connected' ||
    event.type === 'disconnected' ||
    event.type === 'member' ||
    event.type === 'member-left' ||
    event.type === 'member-lost' ||
    event.type === 'forked' ||
    event.type === 'same-key'
  )
}

/**
 * The lines of members connecting, leaving, joining and renaming, as a peer's churn cannot flood them: 20
 * in each 10 s, then one line that counts the rest. A stranger that reconnects or renames in a loop, or
 * relays members it makes up, would otherwise write in this node's own voice as fast as it likes. The
 * WARNINGs (a look-alike name, a rename) are counted apart from the rest, so that twenty members made up
 * in a hurry cannot hide the one that takes a name like yours or a friend's. So are the claims of peers
 * that they have more of our messages than this data dir holds (`type` 'forked'): a few in full, each a
 * paragraph, then a count, whatever number of keys a stranger makes them with; and the reports of two nodes
 * running with one key (`type` 'same-key'), once per key, so once per throwaway key too.
 */
export function memberNewsDigest(
  show: (line: StatusLine) => void,
  options: DropDigestOptions = {},
): { push(line: StatusLine, type?: string): void } {
  const digest = (what: string) =>
    new DropDigest(show, {
      burst: 20,
      summary: (hidden, seconds) =>
        `${hidden} more ${what} in the last ${seconds} s; /peers lists who is there`,
      ...options,
    })
  const news = digest('line(s) of members connecting, leaving, joining or renaming')
  const warnings = digest('WARNING(s) of look-alike names and renames')
  // Told once per key, so once per throwaway key a stranger links three times with (two instances).
  const twins = new DropDigest(show, {
    burst: 5,
    summary: (hidden, seconds) =>
      `${hidden} more peer key(s) in the last ${seconds} s were seen run by two nodes at once; /peers lists who is there`,
    ...options,
  })
  const forks = new DropDigest(show, {
    burst: 5,
    summary: (hidden, seconds) =>
      `${hidden} more peer(s) in the last ${seconds} s said they have more of your messages than this data dir holds; none of yours goes to them in this run`,
    ...options,
  })
  return {
    push: (line, type) =>
      (type === 'forked'
        ? forks
        : type === 'same-key'
          ? twins
          : line.level === 'warn' && line.text.includes('WARNING')
            ? warnings
            : news
      ).push(line),
  }
}
