/**
 * What the runtime writes down so that nothing is lost or shown twice across crashes and restarts,
 * and how it reads that back. Core only defines the records and their meaning; a store package
 * (for example `@parley/store`) makes them durable.
 */
import type { PeerInfo } from './peer-machine.js'
import type { Msg } from './schema.js'

export type JournalRecord =
  /** One of our messages was accepted for delivery: it is in the outbox until every peer acks it. */
  | { readonly t: 'sent'; readonly msg: Msg }
  /**
   * A member's message was accepted and shown; its seq is the new dedup watermark for its origin
   * (`msg.from`, a neighbour or a member reached through relays). `name` is the origin's display name.
   */
  | { readonly t: 'received'; readonly msg: Msg; readonly name: string }
  /** A peer acknowledged our messages up to `upTo`. */
  | { readonly t: 'acked'; readonly peer: PeerInfo; readonly upTo: number }
  /** A peer's sequence epoch; a new one resets what we know of it (it restarted without its journal). */
  | { readonly t: 'peer'; readonly peer: PeerInfo; readonly epoch: string }
  /** Our stream of this origin continues after `seq`: what came before was settled, or left every window. */
  | { readonly t: 'base'; readonly peer: PeerInfo; readonly seq: number }
  /** This node's own sequence epoch, written once when its journal starts. */
  | { readonly t: 'self'; readonly epoch: string }

/** Makes journal records durable. */
export interface Journal {
  /** Resolves once the records are on disk; appends made close together share one flush (group commit). */
  append(records: readonly JournalRecord[]): Promise<void>
}

export interface HistoryEntry {
  readonly direction: 'in' | 'out'
  readonly id: string
  readonly seq: number
  readonly ts: number
  /** The sender: this node for `out`. */
  readonly from: PeerInfo
  readonly body: string
}

/** What the journal says of one member: a neighbour, or an origin known through relays. */
export interface PeerProgress {
  peer: PeerInfo
  /** Highest seq of ours the peer acknowledged (neighbours only). */
  acked: number
  /** Highest contiguous seq received from the peer. */
  received: number
  /** The peer's sequence epoch as last seen (neighbours only). */
  epoch: string
  /** Its newest messages, ending at `received`, at most the window size: what this node can relay again. */
  log: Msg[]
  /** This node had a session with it (it acked us or we recorded its epoch), rather than only relayed messages. */
  neighbor: boolean
}

/** The node's state rebuilt from its journal. */
export interface RestoredState {
  /** The seq the next message sent will get. */
  readonly nextSeq: number
  /** Our messages some neighbour has not acknowledged, in seq order. */
  readonly outbox: Msg[]
  /** Our newest messages, acknowledged or not: the outbox, or the window if that is longer. */
  readonly recent: Msg[]
  /** Our newest message, acknowledged or not: our hash chain continues from it. */
  readonly lastSent?: Msg
  readonly peers: Map<string, PeerProgress>
  /** The newest messages in and out, oldest first, at most `historyLimit`. */
  readonly history: HistoryEntry[]
  /** This node's sequence epoch, if the journal recorded one. */
  readonly epoch?: string
}

/** Messages kept per origin for relaying, unless the node says otherwise. */
export const DEFAULT_WINDOW = 1000

/**
 * Replays journal records in order. Pure; tolerant of records written by a node that crashed between
 * any two appends (a `received` seq that is not the next one is ignored, as the runtime would have).
 * Each origin's newest `windowSize` messages come back too, so a restarted node can catch others up.
 */
export function restore(
  records: Iterable<JournalRecord>,
  self: PeerInfo,
  historyLimit = 10_000,
  windowSize = DEFAULT_WINDOW,
): RestoredState {
  let nextSeq = 1
  let epoch: string | undefined
  const sent: Msg[] = []
  const peers = new Map<string, PeerProgress>()
  const history: HistoryEntry[] = []
  const remember = (entry: HistoryEntry) => {
    history.push(entry)
    if (history.length > historyLimit * 2) history.splice(0, history.length - historyLimit)
  }
  const progress = (peer: PeerInfo): PeerProgress => {
    let p = peers.get(peer.id)
    if (!p) {
      p = { peer, acked: 0, received: 0, epoch: '', log: [], neighbor: false }
      peers.set(peer.id, p)
    }
    p.peer = peer
    return p
  }
  for (const record of records) {
    switch (record.t) {
      case 'sent':
        if (record.msg.seq < nextSeq) break
        nextSeq = record.msg.seq + 1
        sent.push(record.msg)
        remember({ direction: 'out', ...pick(record.msg), from: self })
        break
      case 'received': {
        const p = progress({ id: record.msg.from, name: record.name })
        if (record.msg.seq !== p.received + 1) break
        p.received = record.msg.seq
        p.log.push(record.msg)
        if (p.log.length > windowSize) p.log.shift()
        remember({ direction: 'in', ...pick(record.msg), from: p.peer })
        break
      }
      case 'acked': {
        const p = progress(record.peer)
        p.acked = Math.max(p.acked, record.upTo)
        p.neighbor = true
        break
      }
      case 'peer': {
        const p = progress(record.peer)
        if (p.epoch !== '' && p.epoch !== record.epoch) {
          p.acked = 0
          p.received = 0
          p.log = []
        }
        p.epoch = record.epoch
        p.neighbor = true
        break
      }
      case 'base': {
        const p = progress(record.peer)
        if (record.seq > p.received) {
          p.received = record.seq
          p.log = []
        }
        break
      }
      case 'self':
        epoch ??= record.epoch
        break
      default: {
        const _exhaustive: never = record
        return _exhaustive
      }
    }
  }
  let lowest = Number.POSITIVE_INFINITY
  for (const p of peers.values()) if (p.neighbor) lowest = Math.min(lowest, p.acked)
  if (lowest === Number.POSITIVE_INFINITY) lowest = 0
  const outbox = sent.filter((m) => m.seq > lowest)
  const recent = sent.slice(-Math.max(windowSize, outbox.length))
  const lastSent = sent.at(-1)
  if (history.length > historyLimit) history.splice(0, history.length - historyLimit)
  return {
    nextSeq,
    outbox,
    recent,
    peers,
    history,
    ...(lastSent ? { lastSent } : {}),
    ...(epoch ? { epoch } : {}),
  }
}

function pick(msg: Msg) {
  return { id: msg.id, seq: msg.seq, ts: msg.ts, body: msg.body }
}
