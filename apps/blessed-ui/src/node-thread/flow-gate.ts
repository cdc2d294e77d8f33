/**
 * Bounds what the node's thread has sent and the screen's thread has not taken yet. With one thread, a
 * terminal that stops reading (a stalled SSH link, a suspended terminal) blocked the whole process, so the
 * node stopped reading its links and TCP pushed back on the senders. With two, the node would keep reading
 * and posting to a screen that takes nothing: a flood would pile up without bound. So the node's thread
 * waits (Atomics.wait: it reads no socket meanwhile) while more than a limit is in flight.
 */
import type { NodeEvent } from '@parley/core'

/** Weight units in flight at most: one per event, one more per 64 characters of a message's body. */
export const IN_FLIGHT_LIMIT = 8_192
const SENT = 0
const TAKEN = 1
/** How often a waiting node thread looks again, in case a wake-up was missed (ms). */
const RECHECK_MS = 100

/** What an event weighs: enough that both a flood of small messages and a few huge ones are bounded. */
export function weightOf(event: NodeEvent): number {
  return 1 + (event.type === 'message' ? Math.ceil(event.body.length / 64) : 0)
}

export class FlowGate {
  private readonly cells: Int32Array

  constructor(
    /** Shared by both threads: what was sent, what was taken (weight units, wrapping at 2^32). */
    readonly shared: SharedArrayBuffer = new SharedArrayBuffer(8),
    private readonly limit = IN_FLIGHT_LIMIT,
    /** Blocks until `cells[index]` is no longer `value` or `ms` passed (Atomics.wait). */
    private readonly wait: (cells: Int32Array, index: number, value: number, ms: number) => void = (
      cells,
      index,
      value,
      ms,
    ) => void Atomics.wait(cells, index, value, ms),
  ) {
    this.cells = new Int32Array(shared)
  }

  /** Weight sent and not taken yet. */
  get inFlight(): number {
    return (Atomics.load(this.cells, SENT) - Atomics.load(this.cells, TAKEN)) | 0
  }

  /** The node's side: `weight` was posted; blocks while more than the limit is in flight. */
  sent(weight: number): void {
    Atomics.add(this.cells, SENT, weight)
    for (;;) {
      const taken = Atomics.load(this.cells, TAKEN)
      if (((Atomics.load(this.cells, SENT) - taken) | 0) <= this.limit) return
      this.wait(this.cells, TAKEN, taken, RECHECK_MS)
    }
  }

  /** The screen's side: `weight` was handed on; wakes a waiting node thread. */
  taken(weight: number): void {
    if (weight === 0) return
    Atomics.add(this.cells, TAKEN, weight)
    Atomics.notify(this.cells, TAKEN)
  }
}
