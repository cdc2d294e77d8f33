import type { NodeEvent } from '@parley/core'

export interface AloneNoteOptions {
  /**
   * Whether a line waits in an outbox on disk, which a next run sends (the default). False in --plain
   * mode, which keeps no files: the line is held in memory only, and lost if parley exits before a peer
   * connects.
   */
  readonly durable?: boolean
}

/**
 * A line typed while no link is open goes nowhere yet: said once, at the first such line, and again the
 * first time after links opened and all closed again. Without it a terminal user typing to a room whose
 * neighbours are all down sees nothing at all happen (line mode shows no undelivered count). Feed it
 * every event.
 */
export class AloneNote {
  readonly #open = new Set<string>()
  readonly #durable: boolean
  #told = false

  constructor(options: AloneNoteOptions = {}) {
    this.#durable = options.durable ?? true
  }

  observe(event: NodeEvent): void {
    if (event.type === 'connected') {
      this.#open.add(event.peer.id)
      this.#told = false
    } else if (event.type === 'disconnected') this.#open.delete(event.peer.id)
  }

  /** After a line was sent, with the messages now waiting: the line to show, or undefined. */
  sent(pending: number): string | undefined {
    if (this.#open.size > 0 || this.#told) return undefined
    this.#told = true
    return `nobody is connected: ${this.#durable ? kept(pending) : heldInMemory(pending)} (said once; /peers lists the room)`
  }
}

function kept(pending: number): string {
  return pending === 1
    ? 'this message waits in the outbox and goes out when a peer connects'
    : `${pending} messages wait in the outbox and go out when a peer connects`
}

function heldInMemory(pending: number): string {
  return pending === 1
    ? 'this message is held in memory only (--plain keeps no outbox) and goes out when a peer connects; it is lost if parley exits first'
    : `${pending} messages are held in memory only (--plain keeps no outbox) and go out when a peer connects; they are lost if parley exits first`
}
