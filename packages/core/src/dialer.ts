/**
 * The peers a node dials: one pure peer machine each, whose effects (dial, retry timers, aborts) this
 * performs over the transport. Shared by every node kind, so redialing behaves the same everywhere.
 */
import type { Address } from './address.js'
import type { Clock } from './clock.js'
import { TransportError } from './errors.js'
import type { LinkCloseReason } from './link-machine.js'
import {
  type Backoff,
  initialPeerState,
  type PeerEffect,
  type PeerEvent,
  type PeerInfo,
  type PeerState,
  peerTransition,
  type Refused,
} from './peer-machine.js'
import { platform } from './platform.js'
import type { Link, Transport } from './transport.js'

export interface DialSlot {
  readonly target: Address
  /** The target as written, which tells one slot from another. */
  readonly key: string
  state: PeerState
  /** The node id found at the target, once a handshake told us. */
  peerId?: string
  timer?: unknown
  abort?: AbortController
  /** The code of the last dial failure reported, so a peer that stays down is reported once. */
  lastDialError?: string
}

/** What the dialer needs from the node that owns it. */
export interface DialerHost {
  readonly transport: Transport
  readonly clock: Clock
  readonly random: () => number
  readonly backoff: Backoff
  readonly dialTimeoutMs: number
  /** Takes over a link our dial produced; returns its link id, or undefined when the node refused it. */
  adopt(link: Link, slot: DialSlot): number | undefined
  closeLink(linkId: number, reason: string): void
  /** A slot changed status, or a dial failed for a new reason. */
  stateChanged(slot: DialSlot): void
  dialFailed(slot: DialSlot, code: string, message: string): void
  /**
   * True when a pin names key `peerId` at address `listen`. Only then may a peer that dialed in and
   * announces `listen` stand for our dial to it: anyone can announce any address.
   */
  pinnedAt?(peerId: string, listen: string): boolean
}

export class Dialer {
  /** Set once the node closes (`stop`): a lost session no longer moves its slot. */
  private stopping = false
  readonly slots = new Map<string, DialSlot>()

  constructor(private readonly host: DialerHost) {}

  /** Starts dialing `target` (and redialing it until it answers). The same address twice is a no-op. */
  add(target: Address): void {
    const key = target
    if (this.slots.has(key)) return
    const slot: DialSlot = { target, key, state: initialPeerState }
    this.slots.set(key, slot)
    this.step(slot, { type: 'start' })
  }

  states(): { target: string; state: PeerState }[] {
    return [...this.slots.values()].map((slot) => ({ target: slot.key, state: slot.state }))
  }

  /**
   * Whether some slot may be dialing `peerId`: it names that peer, or it has not learnt whom it reaches
   * yet (after a restart, until its first handshake), so it could be anyone.
   */
  mayDial(peerId: string): boolean {
    for (const slot of this.slots.values())
      if (slot.peerId === undefined || slot.peerId === peerId) return true
    return false
  }

  /** Whether some slot has not learnt whom it reaches yet (never answered since this node started). */
  get unanswered(): boolean {
    // A slot that gave up for good (it reached this node itself, or a version it cannot speak) waits for no one.
    for (const slot of this.slots.values())
      if (slot.peerId === undefined && slot.state.status !== 'failed') return true
    return false
  }

  /** Whether some slot dials `peerId`. */
  dials(peerId: string): boolean {
    for (const slot of this.slots.values()) if (slot.peerId === peerId) return true
    return false
  }

  /** A peer goes by another name now: its slots name it so when they redial. */
  renamed(peer: PeerInfo): void {
    for (const slot of this.slotsFor(peer.id)) this.step(slot, { type: 'renamed', peer })
  }

  slotsFor(peerId: string): DialSlot[] {
    return [...this.slots.values()].filter((slot) => slot.peerId === peerId)
  }

  /**
   * A session opened on link `link`: every slot that dialed it, or that already knew the peer, now holds
   * it. So does a slot that dials the listen address the peer announced, but only when a pin names the
   * peer's key there: without one, a stranger announcing the address would take over a first contact,
   * so the slot keeps dialing the real address and the stranger is just another member.
   */
  opened(link: number, peer: PeerInfo, announcedListen: string | undefined): void {
    for (const slot of this.slots.values()) {
      const dialedIt = slot.state.status === 'handshaking' && slot.state.link === link
      const announced =
        slot.peerId === undefined &&
        announcedListen === slot.key &&
        this.host.pinnedAt?.(peer.id, announcedListen) === true
      if (dialedIt || announced || slot.peerId === peer.id) {
        slot.peerId = peer.id
        this.step(slot, { type: 'session-open', link, peer })
      }
    }
  }

  /**
   * The session with `peerId` lost its link: its slots redial, later and later while it ended in a
   * refusal (`refusal`: its code, and which end refused).
   */
  lost(
    peerId: string,
    link: number,
    reason: string,
    lastedMs: number,
    refusal?: { readonly code: string; readonly by: 'peer' | 'self'; readonly fatal?: boolean },
  ): void {
    // Ended by the node's own close: its slots go from connected to closing, never through reconnecting.
    if (this.stopping) return
    for (const slot of this.slotsFor(peerId)) {
      // Given up on for good: said once, as a failed dial is (the line a frontend's "gave up" points to).
      if (refusal?.fatal && slot.lastDialError !== refusal.code) {
        slot.lastDialError = refusal.code
        this.host.dialFailed(slot, refusal.code, reason)
      }
      this.step(slot, {
        type: 'session-lost',
        link,
        reason,
        lastedMs,
        random: this.host.random(),
        ...(refusal ?? {}),
      })
    }
  }

  /** Whether a slot that dials `peerId` waits out a refusal from it (or of it) right now. */
  refused(peerId: string): boolean {
    return this.slotsFor(peerId).some((slot) => refusedOf(slot.state) !== undefined)
  }

  /**
   * Link `link`, which `slot` dialed, closed before it carried a session. `current` is the session the
   * peer already has over another link, if any, and whether this link's hello came from its process.
   */
  handshakeEnded(
    slot: DialSlot,
    link: number,
    reason: LinkCloseReason,
    current: { link: number; peer: PeerInfo; sameInstance: boolean } | undefined,
  ): void {
    if (slot.state.status !== 'handshaking' || slot.state.link !== link) return
    const adopt =
      current !== undefined &&
      (reason.code === 'DUPLICATE' ||
        // We turned its hello away: another node with the peer's key holds the session this slot wants.
        reason.code === 'SAME_KEY' ||
        (current.sameInstance && (!reason.protocolError || reason.code === 'HANDSHAKE_TIMEOUT')))
    if (current && adopt) {
      // Our dial reached a peer we already chat with over its own dial: adopt that session. The peer
      // says so with a `bye` "duplicate link"; but a link cut at that moment, or a path that drops what
      // was in flight when the connection closed, loses the bye, and the close alone is all that comes;
      // and a peer may refuse a second link with a code of its own. Its hello arrived in every case
      // (else there would be no `current`): redialing would only reach it again, and end the same way,
      // while the slot, never answered, held the outbox (so does a handshake that timed out after the
      // hello). Only when that hello came from the same process as the session: a peer that restarted
      // answers the slot as a new instance, which it must reach. A peer that broke the protocol on the
      // link is not taken at its hello's word: that slot backs off and redials.
      slot.peerId = current.peer.id
      this.step(slot, { type: 'session-open', link: current.link, peer: current.peer })
      return
    }
    const fatal = reason.code === 'VERSION' || reason.code === 'SELF'
    // A peer that refused us says why in its bye; one we refused has the code itself.
    const remote = reason.code === 'BYE' && reason.remoteCode !== undefined
    if (remote && reason.remoteCode === 'UNTRUSTED') {
      // It refused this node's key after the handshake (it holds another key for the address this node
      // announces): told once, as a handshake refused by its allowlist is, and not dialed again, since it
      // refuses the same way until its owner changes what it trusts.
      // Its first line: a warning banner may follow it, cut short by the bye's length.
      const message = `it refused this node's key: ${reason.message.split('\n', 1)[0]}`
      if (slot.lastDialError !== 'REFUSED') {
        slot.lastDialError = 'REFUSED'
        this.host.dialFailed(slot, 'REFUSED', message)
      }
      this.step(slot, {
        type: 'handshake-failed',
        link,
        code: 'REFUSED',
        message,
        fatal: true,
        random: this.host.random(),
        by: 'peer',
      })
      return
    }
    this.step(slot, {
      type: 'handshake-failed',
      link,
      code: remote ? (reason.remoteCode ?? reason.code) : reason.code,
      message: reason.message,
      fatal,
      random: this.host.random(),
      by: remote ? 'peer' : 'self',
    })
  }

  /**
   * Stops dialing `target`: its retries end, a dial under way is aborted, and the link it holds is closed
   * when `dialedBy` says this slot's own dial made it and no other slot holds it. A slot may stand on a
   * link it did not dial (the peer's own, adopted; a plain node's first link): that one stays open.
   * False when `target` is not dialed (as written to `add`).
   */
  remove(target: Address, reason: string, dialedBy: (link: number, slot: DialSlot) => boolean): boolean {
    const slot = this.slots.get(target)
    if (!slot) return false
    const held = linkOf(slot.state)
    const ownLink =
      held !== undefined &&
      dialedBy(held, slot) &&
      ![...this.slots.values()].some((other) => other !== slot && linkOf(other.state) === held)
    const step = peerTransition(slot.state, { type: 'close', reason }, this.host.backoff)
    if (step.ok) {
      const before = slot.state.status
      slot.state = step.state
      for (const effect of step.effects)
        if (effect.type !== 'close-link' || ownLink) this.perform(slot, effect)
      if (before !== step.state.status) this.host.stateChanged(slot)
    }
    slot.abort?.abort()
    slot.abort = undefined
    this.step(slot, { type: 'closed' })
    if (slot.timer !== undefined) this.host.clock.clearTimeout(slot.timer)
    slot.timer = undefined
    this.slots.delete(target)
    return true
  }

  /**
   * The node is closing: sessions that end from now on end with it, and redial nothing (`closeAll` then
   * closes every slot). Called before the node ends its links, so that no slot says `reconnecting` first.
   */
  stop(): void {
    this.stopping = true
  }

  /** Stops every dial and timer (links are the node's to close). */
  closeAll(reason: string): void {
    this.stopping = true
    for (const slot of this.slots.values()) this.step(slot, { type: 'close', reason })
    for (const slot of this.slots.values()) {
      // A dial kept going past its session's start (plain mode) has no peer state left to abort it.
      slot.abort?.abort()
      slot.abort = undefined
      this.step(slot, { type: 'closed' })
    }
  }

  step(slot: DialSlot, event: PeerEvent): void {
    const step = peerTransition(slot.state, event, this.host.backoff)
    if (!step.ok) return
    const before = slot.state.status
    slot.state = step.state
    for (const effect of step.effects) this.perform(slot, effect)
    if (before !== step.state.status) this.host.stateChanged(slot)
  }

  private perform(slot: DialSlot, effect: PeerEffect): void {
    switch (effect.type) {
      case 'dial':
        this.dial(slot)
        return
      case 'abort-dial':
        slot.abort?.abort()
        slot.abort = undefined
        return
      case 'start-timer':
        slot.timer = this.host.clock.setTimeout(() => {
          slot.timer = undefined
          this.step(slot, { type: 'retry-timer' })
        }, effect.ms)
        return
      case 'cancel-timer':
        if (slot.timer !== undefined) this.host.clock.clearTimeout(slot.timer)
        slot.timer = undefined
        return
      case 'close-link':
        this.host.closeLink(effect.link, effect.reason)
        return
      default: {
        const _exhaustive: never = effect
      }
    }
  }

  private dial(slot: DialSlot): void {
    // A dial kept going past a session's start is still in flight: its outcome answers this one too.
    if (slot.abort) return
    const abort = new platform.AbortController()
    slot.abort = abort
    this.host.transport.dial(slot.target, { signal: abort.signal, timeoutMs: this.host.dialTimeoutMs }).then(
      (link) => {
        if (abort.signal.aborted || slot.abort !== abort) {
          link.destroy()
          return
        }
        slot.abort = undefined
        slot.lastDialError = undefined
        const id = this.host.adopt(link, slot)
        if (id !== undefined) this.step(slot, { type: 'dialed', link: id })
      },
      (error: unknown) => {
        if (abort.signal.aborted || slot.abort !== abort) return
        slot.abort = undefined
        // Another link made the peer connected meanwhile: this failure changes nothing worth saying.
        if (slot.state.status === 'connected') return
        const message = error instanceof Error ? error.message : String(error)
        const code = error instanceof TransportError ? error.code : 'UNKNOWN'
        if (code !== slot.lastDialError) {
          slot.lastDialError = code
          this.host.dialFailed(slot, code, message)
        }
        // A peer that proved an untrusted key is refused for good: redialing would only repeat it. So is
        // one that refused this node's key, until its owner allows it, and one that does not speak the
        // secure protocol at all (a --plain node): it never will.
        const fatal = code === 'UNTRUSTED' || code === 'REFUSED' || code === 'NOT_SECURE'
        this.step(slot, { type: 'dial-failed', error: message, code, fatal, random: this.host.random() })
      },
    )
  }
}

/** The refusals a slot backs off from, in the states that carry them. */
function refusedOf(state: PeerState): Refused | undefined {
  return 'refused' in state ? state.refused : undefined
}

/** The link a slot stands on, while it dials through one or holds a session on one. */
function linkOf(state: PeerState): number | undefined {
  return 'link' in state && typeof state.link === 'number' ? state.link : undefined
}
