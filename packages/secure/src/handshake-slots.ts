import { LinkTable } from '@parley/core'

/** One inbound connection holding a slot while it is in the secure handshake. */
export interface Slot {
  readonly address: string
  readonly source: string
  /** Fires when the slot is taken back: evicted for a newer connection, or the listener closed. */
  readonly dropped: AbortSignal
}

export type Admission = { admitted: true; slot: Slot } | { admitted: false; reason: string }

export interface SlotLimits {
  /** Connections in the handshake per node; a new one past it evicts the oldest. */
  perNode: number
  /** The same per source (what the transport says a link came from); a new one past it is refused. */
  perSource: number
}

/**
 * Caps the inbound connections that are still in the secure handshake, since each costs a handshake
 * before anyone is authenticated: per source (refuse the newcomer) and per node (evict the oldest). The
 * counting is core's `LinkTable`, the same caps the node puts on its own unproven links.
 */
export class HandshakeSlots {
  readonly #table: LinkTable<Slot>
  readonly #aborts = new Map<Slot, AbortController>()

  constructor(
    limits: SlotLimits,
    private readonly onEvicted: (slot: Slot, reason: string) => void,
  ) {
    this.#table = new LinkTable<Slot>({
      limits: { max: limits.perNode, maxPerSource: limits.perSource },
      whenFull: 'drop-oldest',
      counting: 'still in the secure handshake',
    })
  }

  /** `source` is the link's `source` as its transport reports it (a host for TCP). */
  admit(address: string, source: string): Admission {
    const abort = new AbortController()
    const slot: Slot = { address, source, dropped: abort.signal }
    const admission = this.#table.admit(slot, source)
    if (!admission.ok) return { admitted: false, reason: admission.reason }
    this.#aborts.set(slot, abort)
    const oldest = admission.dropped
    if (oldest) {
      // An honest handshake takes milliseconds, so the oldest is the likeliest never to complete.
      const dropped = this.#aborts.get(oldest)
      this.release(oldest)
      dropped?.abort()
      this.onEvicted(oldest, admission.droppedWhy ?? 'dropped to let a new connection in')
    }
    return { admitted: true, slot }
  }

  /** The handshake finished, one way or the other. */
  release(slot: Slot): void {
    this.#table.delete(slot)
    this.#aborts.delete(slot)
  }

  /** Ends every handshake still holding a slot (the listener is closing). */
  abortAll(): void {
    const aborts = [...this.#aborts.values()]
    for (const slot of [...this.#table.keys()]) this.#table.delete(slot)
    this.#aborts.clear()
    for (const abort of aborts) abort.abort()
  }
}
