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
    const where = this.options.log ? `; each one is in ${this.options.log}` : ''
    this.show({
      level: 'warn',
      text: `${this.hidden} more connection(s) dropped in the last ${Math.round(this.windowMs / 1000)} s${where}`,
    })
    this.hidden = 0
  }
}
