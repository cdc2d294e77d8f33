/**
 * Two nodes running with one key (a data dir copied and run twice) take each other's links at every
 * neighbour: each link of one replaces the other's, which redials and replaces it back, for ever. A
 * restart looks alike once (a new process instance takes the key's link) but never twice: the old process
 * is gone, so its instance never comes back. An instance that comes back after another one took its
 * place is proof of two live nodes. This watch tells the node so, once per key, and from then on lets
 * only one of them hold the key's link while it is there, the lower instance (so every neighbour picks
 * the same one): the other is refused (`SAME_KEY`), so the links stop flapping. A real restart (a new
 * instance) still replaces the old link at once.
 */

/** The code of a `bye` that closes a link because another node runs with the peer's key. */
export const SAME_KEY = 'SAME_KEY'

/** The `bye` reason to a link that a link of another node with the same key replaced. */
export const SAME_KEY_REPLACED_REASON = 'replaced by a link from another node that runs with your key'

/** The `bye` reason to a node refused while another node with its key holds the link. */
export const SAME_KEY_REFUSED_REASON = 'another node that runs with your key is connected in your place'

export interface SameKeyOptions {
  /** How long an instance that lost the key's link is remembered (ms). */
  readonly rememberMs: number
  /**
   * How long after the holder's link dropped without a `bye` (a transport that ended it in favour of the
   * newcomer's, a link that failed) the holder still counts as there: it is likely to redial at once.
   */
  readonly graceMs: number
  /** Instances remembered per key at most. */
  readonly maxInstances: number
  /** Keys watched at most: past it, the one whose link ended longest ago is forgotten. */
  readonly maxKeys: number
}

export const SAME_KEY_DEFAULTS: SameKeyOptions = {
  rememberMs: 10 * 60_000,
  graceMs: 5_000,
  maxInstances: 8,
  maxKeys: 1_024,
}

/** Where a link came from: the link's remote address, and the address the peer announced in its hello. */
export interface SameKeyAddress {
  readonly address: string
  readonly listen?: string
}

/** What to do with a hello from a known key. */
export type SameKeyVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false
      /** The instance that holds the key's link, and where it is. */
      readonly holder: string
      readonly holderAddress: SameKeyAddress
    }

/** Two live nodes with one key were seen: reported once per key. */
export interface SameKeyReport {
  readonly peerId: string
  /** Where the holder's link came from, and the returning instance's. */
  readonly addresses: readonly SameKeyAddress[]
}

interface Holder {
  readonly instance: string
  readonly address: SameKeyAddress
  live: boolean
  endedAt: number
  /** Its last link ended with its `bye` (it quit, or closed the link itself). */
  cleanly: boolean
}

interface KeyWatch {
  holder?: Holder
  /** Instances that lost the key's link to another one, with when they were last seen, oldest first. */
  readonly superseded: Map<string, { at: number; address: SameKeyAddress }>
  told: boolean
}

export class SameKeyWatch {
  private readonly keys = new Map<string, KeyWatch>()
  private readonly options: SameKeyOptions

  constructor(
    private readonly report: (report: SameKeyReport) => void,
    options: Partial<SameKeyOptions> = {},
  ) {
    this.options = { ...SAME_KEY_DEFAULTS, ...options }
  }

  /**
   * A hello from `instance` of key `peerId` arrived on a new link. Refused when that instance lost the
   * key's link to another one that is still there; an instance seen to come back is reported (once).
   */
  hello(peerId: string, instance: string, address: SameKeyAddress, now: number): SameKeyVerdict {
    const watch = this.keys.get(peerId)
    const holder = watch?.holder
    if (!watch || !holder || instance === '' || instance === holder.instance) return { ok: true }
    const seen = watch.superseded.get(instance)
    if (!seen) return { ok: true }
    if (now - seen.at > this.options.rememberMs) {
      watch.superseded.delete(instance)
      return { ok: true }
    }
    // It came back: two processes run with this key.
    watch.superseded.delete(instance)
    watch.superseded.set(instance, { at: now, address })
    if (!watch.told) {
      watch.told = true
      this.report({ peerId, addresses: [holder.address, address] })
    }
    const there = holder.live || (!holder.cleanly && now - holder.endedAt < this.options.graceMs)
    // Of two that are there, the lower instance keeps the key's links: every neighbour picks the same
    // one, so the other is turned away everywhere (its messages wait in its outbox) rather than each
    // neighbour relaying a different one's messages under the same numbers.
    if (!there || instance < holder.instance) return { ok: true }
    return { ok: false, holder: holder.instance, holderAddress: holder.address }
  }

  /**
   * Whether `instance` of key `peerId` lost the key's link to another one before (and is remembered): a run
   * that comes back, two processes with one key, not a restart.
   */
  cameBack(peerId: string, instance: string): boolean {
    return this.keys.get(peerId)?.superseded.has(instance) === true
  }

  /**
   * A link of `instance` now carries the key's session. The instance it takes over from, if another: that
   * one lost the key's link (a restart's old process, or another node with the key).
   */
  opened(peerId: string, instance: string, address: SameKeyAddress, now: number): string | undefined {
    let watch = this.keys.get(peerId)
    if (!watch) watch = { superseded: new Map(), told: false }
    // Most recently opened last, so the key forgotten to make room is the one idle longest.
    this.keys.delete(peerId)
    this.keys.set(peerId, watch)
    if (this.keys.size > this.options.maxKeys) {
      for (const [key, other] of this.keys)
        if (!other.holder?.live) {
          this.keys.delete(key)
          break
        }
    }
    const before = watch.holder
    let took: string | undefined
    if (before && before.instance !== instance && before.instance !== '') {
      took = before.instance
      watch.superseded.delete(took)
      watch.superseded.set(took, { at: now, address: before.address })
      while (watch.superseded.size > this.options.maxInstances) {
        const oldest = watch.superseded.keys().next().value as string
        watch.superseded.delete(oldest)
      }
    }
    watch.superseded.delete(instance)
    watch.holder = { instance, address, live: true, endedAt: 0, cleanly: false }
    return took
  }

  /** The key's link of `instance` ended; `cleanly` when the peer said `bye`. */
  ended(peerId: string, instance: string, cleanly: boolean, now: number): void {
    const holder = this.keys.get(peerId)?.holder
    if (!holder || holder.instance !== instance) return
    holder.live = false
    holder.endedAt = now
    holder.cleanly = cleanly
  }

  /** Whether two nodes were seen running with key `peerId`. */
  twins(peerId: string): boolean {
    return this.keys.get(peerId)?.told === true
  }

  /** The key is forgotten (its session was). */
  forget(peerId: string): void {
    this.keys.delete(peerId)
  }
}
