/**
 * Journal compaction: the few records that rebuild the same state as the whole journal, so that a
 * long-lived node's journal stops growing with all the traffic it ever carried. Pure; the store writes
 * the result (for example with `AppendLog.rewrite`).
 */
import {
  DEFAULT_WINDOW,
  type JournalRecord,
  type JournalReplay,
  JournalReplayer,
  type PeerProgress,
  type RestoredState,
  restore,
} from './journal.js'
import type { PeerInfo } from './peer-machine.js'

/**
 * The records `restore` needs to rebuild exactly the state it rebuilds from `records`, with the same
 * `historyLimit` and `windowSize`: the messages still in the history, the outbox, the recent window or
 * an origin's log, every `self` record, the `peer` records that set or reset a peer's epoch, each peer's
 * deciding `acked`, the highest `settled`, and `base` records
 * where dropped receipts would leave a gap. Returns undefined if the result cannot be proven to restore
 * the same state (the caller keeps the journal as it is), or if the journal holds a record type this
 * version does not know.
 * @example
 * const compacted = compactJournal(log.records, self, undefined, window)
 * if (compacted && compacted.length * 2 < log.records.length) await log.rewrite(compacted)
 */
export function compactJournal(
  records: readonly JournalRecord[],
  self: PeerInfo,
  historyLimit = 10_000,
  windowSize = DEFAULT_WINDOW,
  maxPeers = MAX_JOURNAL_PEERS,
): JournalRecord[] | undefined {
  const steps = compactionSteps(records, self, historyLimit, windowSize, true, maxPeers)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/** Records replayed in one step of `compactionSteps`: a few milliseconds of work. */
const REPLAY_SLICE = 5_000

/**
 * `compactJournal` in steps, each a slice of the replay or one pass over the kept records or the state: a caller that must keep
 * serving (a running node) can let other work run between two `next()` calls. The records must not
 * change meanwhile. The generator's return value is `compactJournal`'s result.
 *
 * With `verify: false` the result is not restored again and compared with the whole journal's state: that
 * check is a second replay and a deep comparison, and the property tests prove it always holds (a running
 * node compacts every few megabytes, where start-up compaction runs once and keeps the check).
 */
export function* compactionSteps(
  records: readonly JournalRecord[],
  self: PeerInfo,
  historyLimit = 10_000,
  windowSize = DEFAULT_WINDOW,
  verify = true,
  maxPeers = MAX_JOURNAL_PEERS,
): Generator<void, JournalRecord[] | undefined, void> {
  const replay = new JournalReplayer(self, historyLimit, windowSize)
  for (let i = 0; i < records.length; i++) {
    replay.add(records[i] as JournalRecord)
    if ((i + 1) % REPLAY_SLICE === 0) yield
  }
  const whole = replay.finish()
  yield
  const compacted = keepReplayed(records, whole, self, historyLimit, windowSize, maxPeers)
  if (!compacted || !verify) return compacted
  yield
  const restored = restore(compacted, self, historyLimit, windowSize)
  yield
  return sameValue(restored, withoutPeers(whole.state, forgottenPeers(whole, maxPeers)))
    ? compacted
    : undefined
}

/**
 * Members a compacted journal remembers at most, besides those whose messages it keeps: as many as the
 * member table holds by default with the watermarks it keeps of members it forgot (1,000 places, 10 forgotten
 * members each). Each new key that completes a handshake is a member the journal records, so without a
 * bound a stranger minting keys would grow it for good.
 */
export const MAX_JOURNAL_PEERS = 11_000

/**
 * The peers a compaction forgets: past `maxPeers`, those the journal recorded longest ago, never one whose
 * messages the state keeps (in the history or its log), nor the neighbour with the lowest ack, which the
 * outbox is counted from. A forgotten member is a stranger again if it comes back: its messages are
 * deduplicated by what the room still holds, and its new link gets our recent window.
 */
export function forgottenPeers(whole: JournalReplay, maxPeers = MAX_JOURNAL_PEERS): Set<string> {
  const peers = whole.state.peers
  const forgotten = new Set<string>()
  if (peers.size <= maxPeers) return forgotten
  const kept = new Set<string>()
  for (const entry of whole.state.history) if (entry.direction === 'in') kept.add(entry.from.id)
  let lowest: PeerProgress | undefined
  for (const p of peers.values()) {
    if (p.log.length > 0) kept.add(p.peer.id)
    if (p.neighbor && (lowest === undefined || p.acked < lowest.acked)) lowest = p
  }
  if (lowest) kept.add(lowest.peer.id)
  const oldest = [...peers.keys()].filter((id) => !kept.has(id))
  const last = (id: string) => whole.lastFrom.get(id) ?? -1
  oldest.sort((a, b) => last(a) - last(b))
  const excess = Math.min(oldest.length, peers.size - maxPeers)
  for (let i = 0; i < excess; i++) forgotten.add(oldest[i] as string)
  return forgotten
}

/** `state` without the peers in `forgotten`: what a compaction that forgot them restores. */
function withoutPeers(state: RestoredState, forgotten: ReadonlySet<string>): RestoredState {
  if (forgotten.size === 0) return state
  const peers = new Map<string, PeerProgress>()
  for (const [id, p] of state.peers) if (!forgotten.has(id)) peers.set(id, p)
  return { ...state, peers }
}

/**
 * The records of a replayed journal that rebuild its state (`whole`, replayed from `records`), as
 * `compactJournal` keeps them, without checking them by a second replay. Only the records `whole` rests
 * on and the `self` and `peer` records are read: the others may be left out of `records` (undefined).
 */
export function keepReplayed(
  records: readonly (JournalRecord | undefined)[],
  whole: JournalReplay,
  self: PeerInfo,
  historyLimit = 10_000,
  windowSize = DEFAULT_WINDOW,
  maxPeers = MAX_JOURNAL_PEERS,
): JournalRecord[] | undefined {
  const forgotten = forgottenPeers(whole, maxPeers)
  const needed = neededRecords(records.length, whole, forgotten)
  const kept = keepRecords(
    records,
    needed,
    neededPeerRecords(records, needed),
    forgotten,
    whole.resetAfterFrom,
  )
  return kept && settlePeers(kept, withoutPeers(whole.state, forgotten), self, historyLimit, windowSize)
}

/**
 * Which records (by index) the state of a replay rests on, besides the `self` and `peer` records, once the
 * peers in `forgotten` are forgotten.
 */
export function neededRecords(
  count: number,
  whole: JournalReplay,
  forgotten: ReadonlySet<string> = forgottenPeers(whole),
): Uint8Array {
  const needed = new Uint8Array(count)
  for (const i of whole.historyFrom) needed[i] = 1
  for (const i of whole.recentFrom) needed[i] = 1
  if (whole.lastSentFrom !== undefined) needed[whole.lastSentFrom] = 1
  for (const from of whole.logFrom.values()) for (const i of from) needed[i] = 1
  for (const [id, i] of whole.ackedFrom) if (!forgotten.has(id)) needed[i] = 1
  if (whole.settledFrom !== undefined) needed[whole.settledFrom] = 1
  return needed
}

/** A peer's `peer` records since the last kept record about it (see `neededPeerRecords`). */
interface PeerRun {
  /** The epoch in effect before the run. */
  before: string
  last?: number
  lastEpoch: string
  /** The record of the run that last reset the peer (a new epoch), and the run's record before it. */
  resetAt?: number
  beforeReset?: number
}

/**
 * Which `peer` records (by index) a replay needs. A peer's `peer` records between two kept records about it
 * (its kept receipts, its deciding `acked`) make a run, and of a run only what changes the replay counts:
 * its last record (whose epoch stands) and, where the run reset the peer (an epoch that differs from the one
 * before it), the record that last did and the one before it (a reset needs a different epoch before it).
 * Keeping every one let a neighbour that restarts without its journal, or flips its epoch on each link,
 * grow the journal for good.
 */
function neededPeerRecords(records: readonly (JournalRecord | undefined)[], needed: Uint8Array): Uint8Array {
  const keep = new Uint8Array(records.length)
  const runs = new Map<string, PeerRun>()
  const close = (run: PeerRun | undefined) => {
    if (run?.last === undefined) return
    keep[run.last] = 1
    if (run.resetAt !== undefined) keep[run.resetAt] = 1
    if (run.beforeReset !== undefined) keep[run.beforeReset] = 1
    run.before = run.lastEpoch
    run.last = run.resetAt = run.beforeReset = undefined
  }
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (record?.t === 'peer') {
      let run = runs.get(record.peer.id)
      if (!run) {
        run = { before: '', lastEpoch: '' }
        runs.set(record.peer.id, run)
      }
      // The replay resets a peer whose epoch changes from one it had (see `JournalReplayer`).
      const previous = run.last === undefined ? run.before : run.lastEpoch
      if (previous !== '' && previous !== record.epoch) {
        run.resetAt = i
        run.beforeReset = run.last
      }
      run.last = i
      run.lastEpoch = record.epoch
    } else if (record?.t === 'received' && needed[i]) close(runs.get(record.msg.from))
    else if (record?.t === 'acked' && needed[i]) close(runs.get(record.peer.id))
  }
  for (const run of runs.values()) close(run)
  return keep
}

/**
 * The needed records in their order, each kept receipt preceded by a `base` when the receipt before it
 * was dropped: `restore` ignores a receipt that does not follow the last one.
 */
function keepRecords(
  records: readonly (JournalRecord | undefined)[],
  needed: Uint8Array,
  neededPeers: Uint8Array,
  forgotten: ReadonlySet<string>,
  resetAfterFrom: ReadonlyMap<number, number | undefined>,
): JournalRecord[] | undefined {
  const kept: JournalRecord[] = []
  // The seq of the last receipt kept per origin since its last `peer` record (which may reset it).
  const lastKept = new Map<string, number>()
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    if (record === undefined) continue
    switch (record.t) {
      case 'self':
        kept.push(record)
        break
      case 'peer': {
        if (!neededPeers[i] || forgotten.has(record.peer.id)) break
        // A reset from a release before `after`: the receipts its `after` was worked out from may be
        // dropped, so the kept record says it; where there was none, a `base` past them all makes sure the
        // receipts kept before it do not make one up.
        if (resetAfterFrom.has(i)) {
          const after = resetAfterFrom.get(i)
          if (after !== undefined) kept.push({ ...record, after })
          else kept.push({ t: 'base', peer: record.peer, seq: Number.MAX_SAFE_INTEGER }, record)
        } else kept.push(record)
        lastKept.delete(record.peer.id)
        break
      }
      case 'received': {
        if (!needed[i]) break
        const { from, seq } = record.msg
        if (seq > 1 && lastKept.get(from) !== seq - 1) {
          kept.push({ t: 'base', peer: { id: from, name: record.name }, seq: seq - 1 })
        }
        kept.push(record)
        lastKept.set(from, seq)
        break
      }
      case 'sent':
      case 'acked':
      case 'settled':
        if (needed[i]) kept.push(record)
        break
      case 'base':
        break
      default:
        return unknownRecord(record)
    }
  }
  return kept
}

/**
 * Makes every peer come out as in the whole journal: in the same order (nodes iterate them), under the
 * same name, and with the same watermark even where the receipts or the `base` that set it were dropped.
 */
function settlePeers(
  kept: JournalRecord[],
  whole: RestoredState,
  self: PeerInfo,
  historyLimit: number,
  windowSize: number,
): JournalRecord[] {
  const peers = restore(kept, self, historyLimit, windowSize).peers
  const inOrder = sameValue([...peers.keys()], [...whole.peers.keys()])
  const first: JournalRecord[] = inOrder
    ? []
    : [...whole.peers.values()].map((p) => ({ t: 'base', peer: p.peer, seq: 0 }))
  const last: JournalRecord[] = []
  for (const [id, p] of whole.peers) {
    const q = peers.get(id)
    if (!q || q.received !== p.received || !sameValue(q.peer, p.peer)) {
      last.push({ t: 'base', peer: p.peer, seq: p.received })
    }
  }
  return first.length === 0 && last.length === 0 ? kept : [...first, ...kept, ...last]
}

function unknownRecord(_record: never): undefined {
  return undefined
}

/**
 * Structural equality for restored states: plain objects by own keys (a missing key differs from an
 * undefined one), arrays by element, Maps by entries in insertion order.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Map || a instanceof Set) return sameValue([...a], [...(b as Iterable<unknown>)])
  if (Array.isArray(a)) {
    const other = b as unknown[]
    return a.length === other.length && a.every((value, i) => sameValue(value, other[i]))
  }
  const keys = Object.keys(a)
  const otherKeys = Object.keys(b)
  if (keys.length !== otherKeys.length) return false
  const record = a as Record<string, unknown>
  const other = b as Record<string, unknown>
  return keys.every((key) => Object.hasOwn(other, key) && sameValue(record[key], other[key]))
}
