/**
 * Every connection a node (or a transport layer) holds, with what each one costs it, and the caps on
 * unproven connections in one place: how many at once, and how many from one source. A source is what
 * the transport says the link came from (`Link.source`: a host for TCP, a public key for a DHT), so the
 * caps need not know any address format.
 */

export interface LinkLimits {
  /** Counted links at most across the table. */
  readonly max: number
  /** Counted links at most from one source. */
  readonly maxPerSource: number
}

/** The defaults of every table: 64 unproven connections, 8 from one source. */
export const DEFAULT_LINK_LIMITS: LinkLimits = { max: 64, maxPerSource: 8 } as const

/**
 * What a full table does with one more: `drop-oldest` makes room by dropping the oldest counted link (an
 * honest handshake takes milliseconds, so the oldest is the likeliest never to finish, and refusing the
 * newest would keep everyone out until squatters time out); `refuse` turns the newcomer away.
 */
export type WhenFull = 'drop-oldest' | 'refuse'

/**
 * One link's entry: where it came from and what it holds. Budgets per link (bytes buffered, members
 * introduced, acks pending) are kept here, next to the caps they are checked with.
 */
export interface LinkAccount {
  /** Where it came from; undefined for links this node dialed, which no cap limits. */
  readonly source: string | undefined
  /** Counted against the caps (an inbound link that has not proven itself yet). */
  counted: boolean
}

export type Admission<K> =
  | { readonly ok: true; readonly account: LinkAccount; readonly dropped?: K; readonly droppedWhy?: string }
  | { readonly ok: false; readonly reason: string }

export interface LinkTableOptions {
  readonly limits?: Partial<LinkLimits>
  readonly whenFull: WhenFull
  /** What a counted link is waiting for, for the reasons given: "still in their handshake". */
  readonly counting: string
}

/**
 * @example
 * const table = new LinkTable<number>({ whenFull: 'drop-oldest', counting: 'still in their handshake' })
 * const admission = table.admit(linkId, link.source)
 * if (!admission.ok) refuse(admission.reason)
 */
export class LinkTable<K> {
  readonly limits: LinkLimits
  private readonly whenFull: WhenFull
  private readonly counting: string
  /** Oldest first, so the oldest counted link is found first. */
  private readonly accounts = new Map<K, LinkAccount>()
  private readonly perSource = new Map<string, number>()
  private countedTotal = 0

  constructor(options: LinkTableOptions) {
    this.limits = { ...DEFAULT_LINK_LIMITS, ...options.limits }
    this.whenFull = options.whenFull
    this.counting = options.counting
  }

  /**
   * Takes link `key` in, or says why not. A link with a source is counted until `settle`; one without
   * (our own dial) is held but never counted. With `drop-oldest`, the link dropped to make room is named.
   */
  admit(key: K, source: string | undefined): Admission<K> {
    let dropped: K | undefined
    let droppedWhy: string | undefined
    if (source !== undefined) {
      const { max, maxPerSource } = this.limits
      if ((this.perSource.get(source) ?? 0) >= maxPerSource) {
        const reason =
          this.whenFull === 'refuse'
            ? `too many connections from ${source} (limit ${maxPerSource}); refused`
            : `too many connections ${this.counting} (limit ${maxPerSource} from ${source}); refused`
        return { ok: false, reason }
      }
      if (this.countedTotal >= max) {
        if (this.whenFull === 'refuse')
          return { ok: false, reason: `too many connections (limit ${max}); refused` }
        dropped = this.oldestCounted()
        if (dropped !== undefined) {
          this.settle(dropped)
          droppedWhy = `dropped as the oldest of ${max} connections ${this.counting}, to let a new one in`
        }
      }
    }
    const account: LinkAccount = { source, counted: false }
    this.accounts.set(key, account)
    if (source !== undefined) this.count(account)
    return { ok: true, account, ...(dropped !== undefined ? { dropped, droppedWhy } : {}) }
  }

  /** The link proved itself (or is going away): it no longer counts against the caps. */
  settle(key: K): void {
    const account = this.accounts.get(key)
    if (!account?.counted || account.source === undefined) return
    account.counted = false
    this.countedTotal--
    const left = (this.perSource.get(account.source) ?? 1) - 1
    if (left <= 0) this.perSource.delete(account.source)
    else this.perSource.set(account.source, left)
  }

  delete(key: K): void {
    this.settle(key)
    this.accounts.delete(key)
  }

  has(key: K): boolean {
    return this.accounts.has(key)
  }

  accountOf(key: K): LinkAccount | undefined {
    return this.accounts.get(key)
  }

  keys(): IterableIterator<K> {
    return this.accounts.keys()
  }

  get size(): number {
    return this.accounts.size
  }

  /** Counted links now, across the table or from one source. */
  countedFrom(source?: string): number {
    return source === undefined ? this.countedTotal : (this.perSource.get(source) ?? 0)
  }

  private count(account: LinkAccount): void {
    account.counted = true
    this.countedTotal++
    const source = account.source as string
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1)
  }

  private oldestCounted(): K | undefined {
    for (const [key, account] of this.accounts) if (account.counted) return key
    return undefined
  }
}
