import type { NodeEvent } from '@parley/core'

/**
 * A line typed while no link is open goes nowhere yet: said once, at the first such line, and again the
 * first time after links opened and all closed again. Without it a terminal user typing to a room whose
 * neighbours are all down sees nothing at all happen (line mode shows no undelivered count). Feed it
 * every event.
 */
export class AloneNote {
  readonly #open = new Set<string>()
  #told = false

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
    const what =
      pending === 1
        ? 'this message waits in the outbox and goes'
        : `${pending} messages wait in the outbox and go`
    return `nobody is connected: ${what} out when a peer connects (said once; /peers lists the room)`
  }
}
