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
  /** A peer's message was accepted and shown; its seq is the new dedup watermark for that sender. */
  | { readonly t: 'received'; readonly msg: Msg; readonly name: string }
  /** A peer acknowledged our messages up to `upTo`. */
  | { readonly t: 'acked'; readonly peer: PeerInfo; readonly upTo: number }
  /** A peer's sequence epoch; a new one resets what we know of it (it restarted without its journal). */
  | { readonly t: 'peer'; readonly peer: PeerInfo; readonly epoch: string }
  /** The peer said its stream to us starts after `seq`: what came before was settled earlier. */
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

export interface PeerProgress {
  peer: PeerInfo
  /** Highest seq of ours the peer acknowledged. */
  acked: number
  /** Highest contiguous seq received from the peer. */
  received: number
  /** The peer's sequence epoch as last seen. */
  epoch: string
}

/** The node's state rebuilt from its journal. */
export interface RestoredState {
  /** The seq the next message sent will get. */
  readonly nextSeq: number
  /** Our messages some known peer has not acknowledged, in seq order. */
  readonly outbox: Msg[]
  readonly peers: Map<string, PeerProgress>
  /** The newest messages in and out, oldest first, at most `historyLimit`. */
  readonly history: HistoryEntry[]
  /** This node's sequence epoch, if the journal recorded one. */
  readonly epoch?: string
}

/**
 * Replays journal records in order. Pure; tolerant of records written by a node that crashed between
 * any two appends (a `received` seq that is not the next one is ignored, as the runtime would have).
 */
export function restore(
  records: Iterable<JournalRecord>,
  self: PeerInfo,
  historyLimit = 10_000,
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
      p = { peer, acked: 0, received: 0, epoch: '' }
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
        remember({ direction: 'in', ...pick(record.msg), from: p.peer })
        break
      }
      case 'acked': {
        const p = progress(record.peer)
        p.acked = Math.max(p.acked, record.upTo)
        break
      }
      case 'peer': {
        const p = progress(record.peer)
        if (p.epoch !== '' && p.epoch !== record.epoch) {
          p.acked = 0
          p.received = 0
        }
        p.epoch = record.epoch
        break
      }
      case 'base': {
        const p = progress(record.peer)
        p.received = Math.max(p.received, record.seq)
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
  let lowest = peers.size === 0 ? 0 : Number.POSITIVE_INFINITY
  for (const p of peers.values()) lowest = Math.min(lowest, p.acked)
  const outbox = sent.filter((m) => m.seq > lowest)
  if (history.length > historyLimit) history.splice(0, history.length - historyLimit)
  return { nextSeq, outbox, peers, history, ...(epoch ? { epoch } : {}) }
}

function pick(msg: Msg) {
  return { id: msg.id, seq: msg.seq, ts: msg.ts, body: msg.body }
}
