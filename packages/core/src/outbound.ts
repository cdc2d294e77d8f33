/**
 * What goes out on links besides the link machine's own frames: chat frames encoded once and shared by
 * every link that carries them, acks split to fit a frame, and the pump that writes, per neighbour, what
 * the room says it lacks while its link takes more.
 */

import { ackFrames } from './acks.js'
import { encodeFrame } from './codec.js'
import { platform } from './platform.js'
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
 * Its catch-up goes as far as the allowances at `now` let it (`Room.catchUpWait` says when it may go on).
 */
export function pump(
  room: Room,
  neighbor: string,
  target: PumpTarget,
  only: string | undefined,
  now: number,
): void {
  // The room marks an item sent once asked for the next one, so the check comes before each write.
  for (const item of room.outgoing(neighbor, only, now)) {
    if (!target.writable()) return
    if (item.kind === 'msg') target.write(item.msg)
    else {
      const upTo = room.shownOf(neighbor)
      room.tellUpTo(neighbor, upTo)
      target.write({ type: 'ack', upTo, bases: { [item.origin]: item.seq } })
    }
  }
}

/**
 * The acks a neighbour is owed now: what we showed of its stream and the `have` entries it lacks. None
 * when that is nothing new, such as after a copy of a message we already had: each ack costs both ends
 * a frame, and most copies of a relayed message arrive that way.
 */
export function dueAcks(room: Room, neighbor: string): Ack[] {
  const upTo = room.shownOf(neighbor)
  const have = room.haveDelta(neighbor)
  if (!room.tellUpTo(neighbor, upTo) && isEmpty(have)) return []
  return ackFrames({ type: 'ack', upTo }, have)
}

function isEmpty(record: Record<string, number>): boolean {
  for (const _ in record) return false
  return true
}

/** Our messages sent in one tick form a burst; a longer one is cut here, so relays never wait on more. */
export const MAX_BURST = 100

/**
 * Groups our messages into bursts: the messages sent in one tick share one signature, sealed once the
 * tick's code has run (or at MAX_BURST). `seal` signs, persists and lets the burst out.
 */
export class Bursts {
  private current?: {
    size: number
    promise: Promise<void>
    resolve: () => void
  }

  constructor(private readonly seal: () => Promise<void>) {}

  /**
   * Counts one more message in the current burst; resolves once that burst is durable, and never when the
   * journal fails first (told once, as a `journal-error` event): a caller that shows `sent` once the
   * promise resolves then never shows it, and none has a rejection to handle.
   */
  add(): Promise<void> {
    const burst = this.current ?? this.open()
    burst.size++
    if (burst.size >= MAX_BURST) this.end()
    return burst.promise
  }

  private open(): NonNullable<Bursts['current']> {
    let resolve!: () => void
    const promise = new Promise<void>((yes) => {
      resolve = yes
    })
    const burst = { size: 0, promise, resolve }
    this.current = burst
    platform.queueMicrotask(() => {
      if (this.current === burst) this.end()
    })
    return burst
  }

  private end(): void {
    const burst = this.current
    if (!burst) return
    this.current = undefined
    this.seal().then(burst.resolve, () => undefined)
  }
}
