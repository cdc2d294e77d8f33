/**
 * What goes out on links besides the link machine's own frames: chat frames encoded once and shared by
 * every link that carries them, acks split to fit a frame, and the pump that writes, per neighbour, what
 * the room says it lacks while its link takes more.
 */

import { ackFrames } from './acks.js'
import { encodeFrame } from './codec.js'
import type { Room } from './room.js'
import type { Ack, Message, Msg } from './schema.js'

/** Frames of recent messages kept for reuse: a message usually goes out on every link within moments. */
const FRAME_CACHE = 1024

export class FrameCache {
  private readonly frames = new Map<Msg, Uint8Array>()

  constructor(private readonly maxFrame: number) {}

  /** `shared`: the frame may go out on several links, so it is kept for the next one. */
  frameOf(message: Message, shared: boolean): Uint8Array {
    if (message.type !== 'msg' || !shared) return encodeFrame(message, this.maxFrame)
    let frame = this.frames.get(message)
    if (!frame) {
      frame = encodeFrame(message, this.maxFrame)
      this.frames.set(message, frame)
      if (this.frames.size > FRAME_CACHE) this.frames.delete(this.frames.keys().next().value!)
    }
    return frame
  }
}

/** Where the pump writes: false from `write` or `writable` stops it. */
export interface PumpTarget {
  writable(): boolean
  write(message: Message): void
}

/**
 * Writes, in order per member, every durable and verified message the neighbour's link has not carried
 * and the neighbour does not have: ours, and (if it relays) the room's. `only` limits it to one member.
 */
export function pump(room: Room, neighbor: string, target: PumpTarget, only?: string): void {
  // The room marks an item sent once asked for the next one, so the check comes before each write.
  for (const item of room.outgoing(neighbor, only)) {
    if (!target.writable()) return
    if (item.kind === 'msg') target.write(item.msg)
    else target.write({ type: 'ack', upTo: room.shownOf(neighbor), bases: { [item.origin]: item.seq } })
  }
}

/** The acks a neighbour is owed now: what we showed of its stream and the `have` entries it lacks. */
export function dueAcks(room: Room, neighbor: string): Ack[] {
  return ackFrames({ type: 'ack', upTo: room.shownOf(neighbor) }, room.haveDelta(neighbor))
}
