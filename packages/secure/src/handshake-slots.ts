import { hostOf } from '@parley/core'

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
  /** The same per source host; a new one past it is refused. */
  perSource: number
}

/**
 * Caps the inbound connections that are still in the secure handshake, since each costs a handshake
 * before anyone is authenticated: per source host (refuse the newcomer) and per node (evict the oldest).
 */
export class HandshakeSlots {
  /** Oldest first. */
  readonly #slots = new Map<Slot, AbortController>()
  readonly #perSource = new Map<string, number>()

  constructor(
    private readonly limits: SlotLimits,
    private readonly onEvicted: (slot: Slot, reason: string) => void,
  ) {}

  admit(address: string): Admission {
    const source = hostOf(address)
    const fromSource = this.#perSource.get(source) ?? 0
    if (fromSource >= this.limits.perSource) {
      return {
        admitted: false,
        reason: `too many connections still in the secure handshake (limit ${this.limits.perSource} from ${source}); refused`,
      }
    }
    if (this.#slots.size >= this.limits.perNode) {
      // An honest handshake takes milliseconds, so the oldest is the likeliest never to complete;
      // refusing the newest instead would keep everyone out until the squatters time out.
      const [oldest] = this.#slots.keys()
      if (oldest) {
        const abort = this.#slots.get(oldest)!
        this.release(oldest)
        abort.abort()
        this.onEvicted(
          oldest,
          `dropped as the oldest of ${this.limits.perNode} connections still in the secure handshake, to let a new one in`,
        )
      }
    }
    const abort = new AbortController()
    const slot: Slot = { address, source, dropped: abort.signal }
    this.#slots.set(slot, abort)
    this.#perSource.set(source, fromSource + 1)
    return { admitted: true, slot }
  }

  /** The handshake finished, one way or the other. */
  release(slot: Slot): void {
    if (!this.#slots.delete(slot)) return
    const left = (this.#perSource.get(slot.source) ?? 1) - 1
    if (left <= 0) this.#perSource.delete(slot.source)
    else this.#perSource.set(slot.source, left)
  }

  /** Ends every handshake still holding a slot (the listener is closing). */
  abortAll(): void {
    const aborts = [...this.#slots.values()]
    this.#slots.clear()
    this.#perSource.clear()
    for (const abort of aborts) abort.abort()
  }
}
