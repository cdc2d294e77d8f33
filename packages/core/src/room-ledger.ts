/**
 * What each open neighbour's link makes the room hold, in the room's own link table: the watermark
 * entries its acks name (counted as they are added, released when they go), its allowance of origins
 * named in acks, and the cap on direct neighbours. The room charges the reorder buffers here too.
 */
import { FIXED_MSG_BYTES } from './inbound-gate.js'
import { CatchUpMeter, type LinkBudgets, LinkTable, WATERMARK_ENTRY_BYTES } from './link-table.js'
import { ACK_ENTRY_RATE, type Neighbor, type Refusal } from './room-types.js'
import type { Msg } from './schema.js'

/** What a message counts against its neighbour's reorder budget: its strings, one byte per UTF-16 unit, plus 160. */
export function weigh(msg: Msg): number {
  const { body, name, prev, sig, id } = msg
  return (
    FIXED_MSG_BYTES + body.length + id.length + (name?.length ?? 0) + (prev?.length ?? 0) + (sig?.length ?? 0)
  )
}

/** What the open neighbours' links hold, as `held()` reports it. */
export interface HeldReport {
  /** Bytes held for all links together. */
  readonly total: number
  readonly budgets: LinkBudgets
  readonly links: readonly { readonly peer: string; readonly buffered: number; readonly watermarks: number }[]
}

export class RoomLedger {
  /** The open neighbours' links, keyed by neighbour id. */
  readonly links: LinkTable<string>
  /** What the node may still send as catch-up, per neighbour key, per source and in all (`CatchUpBudget`). */
  readonly catchUp: CatchUpMeter

  constructor(
    budgets: Partial<LinkBudgets>,
    private readonly maxNeighbors: number,
  ) {
    this.links = new LinkTable({ whenFull: 'refuse', counting: 'linked', budgets })
    this.catchUp = new CatchUpMeter(this.links.budgets.catchUp)
  }

  /** A link to neighbour `id` opened: it holds nothing yet on it. */
  open(id: string): void {
    this.links.admit(id, undefined)
  }

  /** Its link closed: what it held is released. */
  close(id: string): void {
    this.links.delete(id)
  }

  held(): HeldReport {
    const links = [...this.links.entries()].map(([peer, account]) => ({ peer, ...account.held }))
    return { total: this.links.held, budgets: this.links.budgets, links }
  }

  /**
   * Whether neighbour `id` may link now: a peer this node dialed always may, as may one already linked
   * (a newer link replaces its old one); anyone else only while there are fewer than `maxNeighbors`.
   */
  admit(id: string, dialed: boolean): Refusal | undefined {
    if (dialed || this.links.has(id) || this.links.size < this.maxNeighbors) return undefined
    return {
      neighbor: id,
      code: 'TOO_MANY_NEIGHBORS',
      message: `this node already has ${this.maxNeighbors} direct neighbours; try another member`,
    }
  }

  /**
   * Raises what neighbour `neighbor` has of `originId`. A new entry is counted against its watermark
   * budget: when it does not fit, nothing is kept and the reason is returned.
   */
  markHas(neighbor: Neighbor, originId: string, seq: number): string | undefined {
    return this.mark(neighbor, neighbor.has, originId, seq)
  }

  mark(neighbor: Neighbor, map: Map<string, number>, key: string, value: number): string | undefined {
    const had = map.get(key)
    if (had !== undefined) {
      if (value > had) map.set(key, value)
      return undefined
    }
    if (value <= 0) return undefined
    const charge = this.links.charge(neighbor.id, 'watermarks', WATERMARK_ENTRY_BYTES)
    if (!charge.ok) return charge.reason
    map.set(key, value)
    return undefined
  }

  /** Forgets what a neighbour said it has of `originId`. */
  forgetHas(neighbor: Neighbor, originId: string): void {
    if (neighbor.has.delete(originId)) this.links.release(neighbor.id, 'watermarks', WATERMARK_ENTRY_BYTES)
  }

  /** Forgets all a neighbour said of `originId` (what it has, where its window starts): the room forgot that member. */
  forgetOrigin(neighbor: Neighbor, originId: string): void {
    this.forgetHas(neighbor, originId)
    if (neighbor.bases.delete(originId)) this.links.release(neighbor.id, 'watermarks', WATERMARK_ENTRY_BYTES)
  }

  /** Forgets every watermark a neighbour gave (its link closed or reopened, or it restarted). */
  forgetWatermarks(neighbor: Neighbor, bases = true): void {
    const entries = neighbor.has.size + (bases ? neighbor.bases.size : 0)
    this.links.release(neighbor.id, 'watermarks', entries * WATERMARK_ENTRY_BYTES)
    neighbor.has.clear()
    if (bases) neighbor.bases.clear()
  }

  /** Takes `bytes` of catch-up for the neighbour from the allowances that apply to it; false when one is short. */
  takeCatchUp(neighbor: Neighbor, bytes: number, now: number): boolean {
    return this.catchUp.take(neighbor.id, neighbor.source, bytes, now)
  }

  /** Gives back catch-up taken for a message that was not written after all. */
  giveBackCatchUp(neighbor: Neighbor, bytes: number, now: number): void {
    this.catchUp.giveBack(neighbor.id, neighbor.source, bytes, now)
  }

  /** Milliseconds until `bytes` of catch-up may go to the neighbour (0: now). */
  catchUpWait(neighbor: Neighbor, bytes: number, now: number): number {
    return this.catchUp.waitFor(neighbor.id, neighbor.source, bytes, now)
  }

  /** Takes `count` entries from the neighbour's allowance of origins named in acks; false when it is spent. */
  takeAckEntries(neighbor: Neighbor, count: number, now: number): boolean {
    if (count === 0) return true
    const elapsed = Math.max(0, now - neighbor.ackRefilledAt)
    const refilled = neighbor.ackEntries + (elapsed * ACK_ENTRY_RATE.perSecond) / 1000
    neighbor.ackEntries = Math.min(ACK_ENTRY_RATE.burst, refilled)
    neighbor.ackRefilledAt = Math.max(neighbor.ackRefilledAt, now)
    if (neighbor.ackEntries < count) return false
    neighbor.ackEntries -= count
    return true
  }
}
