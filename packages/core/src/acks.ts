/** Acks as they go on the wire: one ack split over frames when its maps are long. */
import { type Ack, MAX_ORIGINS_PER_ACK } from './schema.js'

/** An ack, split over several frames when its `have` or `bases` map is long; opening acks mark all but the last. */
export function ackFrames(
  ack: Ack,
  have: Record<string, number> = {},
  bases: Record<string, number> = {},
): Ack[] {
  const haves = chunks(Object.entries(have))
  const baseChunks = chunks(Object.entries(bases))
  const count = Math.max(1, haves.length, baseChunks.length)
  const opening = ack.base !== undefined
  const frames: Ack[] = []
  for (let i = 0; i < count; i++) {
    const frame: Ack = { ...ack }
    if (haves[i]) frame.have = Object.fromEntries(haves[i]!)
    if (baseChunks[i]) frame.bases = Object.fromEntries(baseChunks[i]!)
    if (opening && i < count - 1) frame.more = true
    frames.push(frame)
  }
  return frames
}

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += MAX_ORIGINS_PER_ACK)
    out.push(items.slice(i, i + MAX_ORIGINS_PER_ACK))
  return out
}
