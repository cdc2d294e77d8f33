/// <reference path="./types/hyper.d.ts" />
import type HyperDHT from 'hyperdht'
import type Hyperswarm from 'hyperswarm'
import { Swarm } from './commonjs.js'
import { toHex } from './keys.js'

/**
 * Hyperswarm, with two changes for parley's rooms.
 *
 * A connection from a key that already has an established link here does not end that link: Hyperswarm
 * would end it at once, taking the newer one as a reconnect. The newcomer is handed on beside it, and
 * parley's hello decides which stays (a restart replaces the old link at once; a second node running with
 * the same key is turned away). Otherwise two such nodes end each other's link at every member on each
 * dial, before anyone has read a hello. When the old link ends and the newcomer is still open, the swarm
 * takes the newcomer as the key's connection, as it would have.
 *
 * A peer can be held back: the swarm does not dial it (found on a topic, or after a retry wait) until the
 * time given, then dials it again. Connections it opens itself still come in.
 */
export class RoomSwarm extends Swarm {
  /** Connections handed on beside the key's existing one, not yet the swarm's own. */
  readonly #beside = new WeakSet<HyperDHT.SecretStream>()
  /** The connection the swarm is taking on right now, whose 'connection' event was sent already. */
  #takingOver: HyperDHT.SecretStream | undefined
  /** Per hex key: when dialing it may start again, and the timer that does it then. */
  readonly #heldBack = new Map<string, { until: number; timer: NodeJS.Timeout }>()

  /** Keeps the swarm from dialing `key` (hex) for `ms`; 0 lifts a hold. Keys held at most: `MAX_HELD`. */
  holdBack(key: string, ms: number): void {
    const hex = key.toLowerCase()
    const held = this.#heldBack.get(hex)
    if (held) clearTimeout(held.timer)
    this.#heldBack.delete(hex)
    if (ms <= 0 || this.destroyed) return
    if (this.#heldBack.size >= MAX_HELD) {
      const [oldest, hold] = this.#heldBack.entries().next().value as [string, { timer: NodeJS.Timeout }]
      clearTimeout(hold.timer)
      this.#heldBack.delete(oldest)
    }
    const timer = setTimeout(() => this.#release(hex), ms)
    timer.unref()
    this.#heldBack.set(hex, { until: Date.now() + ms, timer })
  }

  /** Whether the swarm holds back from dialing `key` (hex) right now. */
  heldBack(key: string): boolean {
    const held = this.#heldBack.get(key.toLowerCase())
    return held !== undefined && held.until > Date.now()
  }

  override _connect(peerInfo: Hyperswarm.PeerInfo, queued: boolean): void {
    if (this.heldBack(toHex(peerInfo.publicKey))) {
      // Left for the hold's end, which puts it back in the queue; a flush waiting for it is not kept waiting.
      if (queued) this._flushMaybe(peerInfo)
      return
    }
    super._connect(peerInfo, queued)
  }

  override _handleServerConnection(conn: HyperDHT.SecretStream): void {
    const beside = this.#beside.has(conn)
    const existing =
      this.destroyed || this.suspended ? undefined : this._allConnections.get(conn.remotePublicKey)
    if (beside) {
      // The newcomer that was handed on beside an older link: the swarm takes it on once no other
      // connection holds its key, without handing it on a second time.
      if (conn.destroyed || conn.destroying) return
      if (existing !== undefined) {
        this.#after(existing, conn)
        return
      }
      this.#takingOver = conn
      try {
        super._handleServerConnection(conn)
      } finally {
        this.#takingOver = undefined
      }
      return
    }
    // Only an established link is kept: two dials crossing (neither has carried data yet) are settled by
    // Hyperswarm's own tie-break, which both sides compute alike.
    if (existing === undefined || !established(existing)) {
      super._handleServerConnection(conn)
      return
    }
    this.#beside.add(conn)
    conn.on('error', noop)
    this.#after(existing, conn)
    const peer: Hyperswarm.PeerInfo = { publicKey: conn.remotePublicKey, client: false, topics: [] }
    this.emit('connection', conn, peer)
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    // Hyperswarm's constructor may emit before this class's fields exist.
    if (event === 'connection' && #takingOver in this && args[0] === this.#takingOver) return false
    return super.emit(event, ...args)
  }

  /** Once `existing` closes (the swarm forgets it first: its own listener came earlier), `conn` is looked at again. */
  #after(existing: HyperDHT.SecretStream, conn: HyperDHT.SecretStream): void {
    const onExistingClose = () => {
      conn.off('close', onClose)
      this._handleServerConnection(conn)
    }
    const onClose = () => existing.off('close', onExistingClose)
    existing.once('close', onExistingClose)
    conn.once('close', onClose)
  }

  #release(hex: string): void {
    this.#heldBack.delete(hex)
    if (this.destroyed) return
    const peerInfo = this.peers.get(hex)
    if (peerInfo === undefined || peerInfo.banned || this._allConnections.has(hex)) return
    if (this._shouldRequeue(peerInfo)) this._enqueue(peerInfo)
  }
}

/** Keys held back at once at most; past it, the oldest hold is dropped. */
const MAX_HELD = 1_024

/** Both ways carried data: the link was in use, not a dial still settling. */
function established(conn: HyperDHT.SecretStream): boolean {
  return conn.rawBytesRead > 0 && conn.rawBytesWritten > 0
}

function noop(): void {}
