/**
 * Every connection a node (or a transport layer) holds, with what each one costs it, and the caps on
 * unproven connections in one place: how many at once, and how many from one source. A source is what
 * the transport says the link came from (`Link.source`: a host for TCP, a public key for a DHT), so the
 * caps need not know any address format. What a linked peer makes the node hold is charged to its link's
 * account, against a byte budget per link and one across all links (`charge`, `release`).
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
 * What a linked peer can make the node hold, by kind, in bytes as they are counted (a message counts its
 * strings at one byte per UTF-16 unit plus a fixed 160, as the rate limit does; a watermark entry counts
 * `WATERMARK_ENTRY_BYTES`).
 */
export interface Held {
  /** Out-of-order and unverified messages it sent, waiting in the reorder buffers. */
  buffered: number
  /** Entries of its watermark maps: what it says it has (`have`) and where its windows start (`bases`). */
  watermarks: number
}
export type HeldKind = keyof Held

/** Byte budgets: what one link may make the node hold of each kind, and all links together. */
export interface LinkBudgets {
  readonly buffered: number
  readonly watermarks: number
  /** Everything every link holds, summed. */
  readonly total: number
  /** What the node sends again from its windows when links open, over time (see `CatchUpMeter`). */
  readonly catchUp: CatchUpBudget
}

/** Bytes a second, and how many may be saved up and spent at once. */
export interface ByteRate {
  readonly perSecond: number
  readonly burst: number
}

/**
 * The catch-up a node serves when links open (what the neighbour's opening ack says it lacks of each
 * member's window, and of our own messages everyone already has), counted as `weigh` counts: per peer key
 * (shared by all its links and reconnects), per source (shared by every key that dials in from there),
 * and across all neighbours.
 */
export interface CatchUpBudget {
  readonly perKey: ByteRate
  readonly perSource: ByteRate
  readonly total: ByteRate
}

/**
 * 8 MiB of catch-up at once per key covers what an honest member lacks after a normal absence many times
 * over; a member new to a full room (32 MiB of windows) gets the rest at 1 MiB a second. Throwaway keys
 * from one source share 16 MiB and 2 MiB a second, and all neighbours together 32 MiB and 4 MiB a second:
 * a peer that reconnects in a loop costs the node a few percent of a core, not all of it.
 */
export const DEFAULT_CATCH_UP_BUDGET: CatchUpBudget = {
  perKey: { perSecond: 1024 * 1024, burst: 8 * 1024 * 1024 },
  perSource: { perSecond: 2 * 1024 * 1024, burst: 16 * 1024 * 1024 },
  total: { perSecond: 4 * 1024 * 1024, burst: 32 * 1024 * 1024 },
} as const

/**
 * 2 MiB of reorder buffer per link holds two whole bursts of the longest messages (100 of 10,000
 * characters); 512 KiB of watermarks holds both maps for a room of 1,000 members with room to spare; 64
 * MiB in all keeps 100 hostile peers from taking more than a few hundred MiB of memory. Catch-up: see
 * `DEFAULT_CATCH_UP_BUDGET`.
 */
export const DEFAULT_LINK_BUDGETS: LinkBudgets = {
  buffered: 2 * 1024 * 1024,
  watermarks: 512 * 1024,
  total: 64 * 1024 * 1024,
  catchUp: DEFAULT_CATCH_UP_BUDGET,
} as const

/** What one watermark entry costs: a 64-character hex key, its number and the map's own entry. */
export const WATERMARK_ENTRY_BYTES = 160

/** A charge counted, or why not: `over` says whether the link's own budget or the total would be passed. */
export type Charge =
  | { readonly ok: true }
  | { readonly ok: false; readonly over: 'link' | 'total'; readonly reason: string }

/**
 * One link's entry: where it came from and what it holds. What a peer makes the node hold is counted
 * here (`held`), next to the caps and budgets it is checked against.
 */
export interface LinkAccount {
  /** Where it came from; undefined for links this node dialed, which no cap limits. */
  readonly source: string | undefined
  /** Counted against the caps (an inbound link that has not proven itself yet). */
  counted: boolean
  /** Bytes held for this link, by kind. */
  readonly held: Held
}

const CHARGED: Charge = { ok: true }
const KIND_NAMES: Record<HeldKind, string> = {
  buffered: 'buffered messages',
  watermarks: 'watermark entries',
}

export type Admission<K> =
  | { readonly ok: true; readonly account: LinkAccount; readonly dropped?: K; readonly droppedWhy?: string }
  | { readonly ok: false; readonly reason: string }

export interface LinkTableOptions {
  readonly limits?: Partial<LinkLimits>
  readonly budgets?: Partial<LinkBudgets>
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
  readonly budgets: LinkBudgets
  private readonly whenFull: WhenFull
  private readonly counting: string
  /** Oldest first, so the oldest counted link is found first. */
  private readonly accounts = new Map<K, LinkAccount>()
  private readonly perSource = new Map<string, number>()
  private countedTotal = 0
  private heldTotal = 0

  constructor(options: LinkTableOptions) {
    this.limits = { ...DEFAULT_LINK_LIMITS, ...options.limits }
    this.budgets = { ...DEFAULT_LINK_BUDGETS, ...options.budgets }
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
    this.delete(key)
    const account: LinkAccount = { source, counted: false, held: { buffered: 0, watermarks: 0 } }
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

  /** The link is gone: it counts no more, and everything it held is released. */
  delete(key: K): void {
    this.settle(key)
    const account = this.accounts.get(key)
    if (!account) return
    this.heldTotal -= account.held.buffered + account.held.watermarks
    this.accounts.delete(key)
  }

  /**
   * Counts `bytes` more of `kind` against link `key`, unless that would take the link past its budget or
   * all links past the total: then nothing is counted, and the reason says which. A link not in the table
   * holds nothing and is charged nothing.
   */
  charge(key: K, kind: HeldKind, bytes: number): Charge {
    const account = this.accounts.get(key)
    if (!account) return CHARGED
    const budget = this.budgets[kind]
    if (account.held[kind] + bytes > budget)
      return {
        ok: false,
        over: 'link',
        reason: `holds ${account.held[kind]} bytes of ${KIND_NAMES[kind]}; ${bytes} more would pass its budget of ${budget}`,
      }
    if (this.heldTotal + bytes > this.budgets.total)
      return {
        ok: false,
        over: 'total',
        reason: `would take what all links hold past ${this.budgets.total} bytes (${KIND_NAMES[kind]})`,
      }
    account.held[kind] += bytes
    this.heldTotal += bytes
    return CHARGED
  }

  /** The link other than `except` that holds the most of `kind`, with what it holds. */
  fullest(kind: HeldKind, except: K): { readonly key: K; readonly held: number } | undefined {
    let fullest: { key: K; held: number } | undefined
    for (const [key, account] of this.accounts)
      if (key !== except && account.held[kind] > (fullest?.held ?? 0))
        fullest = { key, held: account.held[kind] }
    return fullest
  }

  /** Gives back `bytes` of `kind` that link `key` held. */
  release(key: K, kind: HeldKind, bytes: number): void {
    const account = this.accounts.get(key)
    if (!account) return
    const released = Math.min(bytes, account.held[kind])
    account.held[kind] -= released
    this.heldTotal -= released
  }

  /** Bytes held for every link together. */
  get held(): number {
    return this.heldTotal
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

  entries(): IterableIterator<[K, LinkAccount]> {
    return this.accounts.entries()
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

/** Keys and sources whose catch-up allowance is remembered; past it the least recently used is forgotten. */
export const CATCH_UP_TRACKED = 1024

/** The longest `CatchUpMeter.waitFor` answers: waiting is asked again after it. */
export const MAX_CATCH_UP_WAIT_MS = 60_000

interface Bucket {
  tokens: number
  at: number
}

/**
 * The catch-up allowances of `CatchUpBudget`: a token bucket per peer key, per source and one for all,
 * refilled with time (`now` in ms). A send takes its bytes from every bucket that applies, or from none.
 * Allowances outlive links, so a peer that reconnects, or dials in again under new keys from the same
 * source, finds what it spent still spent. Only the `CATCH_UP_TRACKED` most recently used keys and sources
 * are remembered: a forgotten one starts full again, and the one for all bounds them together.
 * @example
 * const meter = new CatchUpMeter(DEFAULT_CATCH_UP_BUDGET)
 * if (meter.take(peerId, '10.0.0.7', weigh(msg), now)) send(msg)
 * else retryIn(meter.waitFor(peerId, '10.0.0.7', weigh(msg), now))
 */
export class CatchUpMeter {
  private readonly all: Bucket
  private readonly keys = new Map<string, Bucket>()
  private readonly sources = new Map<string, Bucket>()
  /** Bytes taken so far, all keys together (given back ones not counted). */
  served = 0

  constructor(
    readonly budget: CatchUpBudget,
    private readonly tracked = CATCH_UP_TRACKED,
  ) {
    this.all = { tokens: budget.total.burst, at: Number.NEGATIVE_INFINITY }
  }

  /**
   * Takes `bytes` from the allowances of `key`, of `source` (none for a link this node dialed) and of all,
   * or nothing when one of them has too little: false then. A send larger than a burst goes once that
   * allowance is full, and leaves it owing.
   */
  take(key: string, source: string | undefined, bytes: number, now: number): boolean {
    const buckets = this.bucketsOf(key, source, now)
    for (const [bucket, rate] of buckets) if (bucket.tokens < Math.min(bytes, rate.burst)) return false
    for (const [bucket] of buckets) bucket.tokens -= bytes
    this.served += bytes
    return true
  }

  /** Gives back `bytes` taken for a send that did not happen after all. */
  giveBack(key: string, source: string | undefined, bytes: number, now: number): void {
    for (const [bucket, rate] of this.bucketsOf(key, source, now))
      bucket.tokens = Math.min(rate.burst, bucket.tokens + bytes)
    this.served -= bytes
  }

  /** Milliseconds (at least 1) until `bytes` can be taken for `key` from `source`; 0 when they can now. */
  waitFor(key: string, source: string | undefined, bytes: number, now: number): number {
    let wait = 0
    for (const [bucket, rate] of this.bucketsOf(key, source, now)) {
      const lacking = Math.min(bytes, rate.burst) - bucket.tokens
      if (lacking > 0) wait = Math.max(wait, Math.ceil((lacking * 1000) / Math.max(rate.perSecond, 1e-9)))
    }
    // Asked again within a minute at most: an allowance that never refills (a rate of 0) waits, not spins.
    return wait > 0 ? Math.min(Math.max(1, wait), MAX_CATCH_UP_WAIT_MS) : 0
  }

  /** Keys and sources remembered now (at most `CATCH_UP_TRACKED` of each). */
  get trackedCount(): { readonly keys: number; readonly sources: number } {
    return { keys: this.keys.size, sources: this.sources.size }
  }

  private bucketsOf(key: string, source: string | undefined, now: number): [Bucket, ByteRate][] {
    const { perKey, perSource, total } = this.budget
    const buckets: [Bucket, ByteRate][] = [
      [refill(this.all, total, now), total],
      [refill(this.recent(this.keys, key, perKey, now), perKey, now), perKey],
    ]
    if (source !== undefined)
      buckets.push([refill(this.recent(this.sources, source, perSource, now), perSource, now), perSource])
    return buckets
  }

  /** The bucket of `name`, now the most recently used; a new one starts full. */
  private recent(map: Map<string, Bucket>, name: string, rate: ByteRate, now: number): Bucket {
    let bucket = map.get(name)
    if (bucket) map.delete(name)
    else {
      bucket = { tokens: rate.burst, at: now }
      if (map.size >= this.tracked) map.delete(map.keys().next().value!)
    }
    map.set(name, bucket)
    return bucket
  }
}

function refill(bucket: Bucket, rate: ByteRate, now: number): Bucket {
  // The bucket for all starts full whatever the clock says.
  if (bucket.at === Number.NEGATIVE_INFINITY) bucket.at = now
  else if (now > bucket.at) {
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) * rate.perSecond) / 1000)
    bucket.at = now
  }
  return bucket
}
