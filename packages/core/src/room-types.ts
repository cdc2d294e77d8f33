/** The room's vocabulary: its options, what it restores, the effects it returns, and its inner records. */
import { ProtocolError } from './errors.js'
import type { LinkBudgets } from './link-table.js'
import type { PeerInfo } from './peer-machine.js'
import type { Ack, Here, HereState, Lost, Msg } from './schema.js'

/**
 * Signs and checks each origin's hash chain. Core knows no cryptography: the secure package implements
 * this with sha256 and ed25519 (`createMessageAuth`); tests pass a fake.
 */
export interface MessageAuth {
  /** The `prev` of an origin's first message. */
  genesis(originId: string): string
  /** The chain hash of `msg` given the hash before it: `H(prev || canonicalMsg(msg))`. */
  chain(prev: string, msg: Msg): string
  /** This node's signature over a chain hash. */
  sign(hash: string): string
  /** True when `sig` is `originId`'s signature over `hash`. */
  verify(originId: string, hash: string, sig: string): boolean
  /**
   * The hash a member's presence (`here` frame) is signed over: `H(canonicalHere(here))`, which no chain
   * hash can equal (its input starts otherwise). Signed and checked with `sign` and `verify`. Without it,
   * the node neither announces nor takes presence (the `here` cap).
   */
  hereHash?(here: HereFields): string
  /**
   * The hash a `gone` presence's reason is signed over, apart from the presence (`reasonSig`):
   * `H(canonicalHereReason(here))`. Without it, the node says no reason there and shows none it is told.
   */
  hereReasonHash?(here: HereFields & { readonly reason: string }): string
  /**
   * The hash a neighbour's notice that it lost its link to a member (`lost` frame) is signed over:
   * `H(canonicalLost(lost))`, as `hereHash` is for presence. Without it, the node neither announces nor
   * takes these notices (the `lost` cap).
   */
  lostHash?(lost: LostFields): string
}

/** What a `lost` frame's signature covers. */
export type LostFields = Pick<Lost, 'from' | 'member' | 'ts'>

/** The bytes a lost-link notice's signature covers, domain-separated from presence's and messages'. */
export function canonicalLost(lost: LostFields): string {
  return JSON.stringify(['parley-lost/1', lost.from, lost.member, lost.ts])
}

/** What a `here` frame's signature covers. */
export type HereFields = Pick<Here, 'from' | 'name' | 'ts' | 'state'>

/** The bytes a presence signature covers, domain-separated from a message's (`canonicalMsg`). */
export function canonicalHere(here: HereFields): string {
  return JSON.stringify(['parley-here/1', here.from, here.name, here.ts, here.state])
}

/**
 * The bytes a `gone` presence's reason signature (`reasonSig`) covers: the presence and the reason, under
 * a tag of their own, so neither signature passes for the other and a relay cannot pair one presence
 * with another reason.
 */
export function canonicalHereReason(here: HereFields & { readonly reason: string }): string {
  return JSON.stringify(['parley-here-reason/1', here.from, here.name, here.ts, here.state, here.reason])
}

/** How presence is said, held and bounded (`PRESENCE_DEFAULTS` in presence.ts). */
export interface PresenceOptions {
  readonly everyMs: number
  readonly expiryMs: number
  readonly skewMs: number
  readonly rate: { readonly perSecond: number; readonly burst: number }
  readonly sentOnOpen: number
  readonly lostGraceMs: number
}

/** A member's newest presence, as this node holds it (one per member, on its `Origin`). */
export interface HeldHere {
  readonly ts: number
  readonly state: HereState
  /** The frame as its member signed it, to relay and to tell neighbours that link later. */
  readonly frame: Here
  /** When it was taken here (this node's clock). */
  readonly heldAt: number
  /** What of its member's presence this node may still relay (`Presence`), carried to its next one. */
  readonly relay?: { tokens: number; refilledAt: number; told?: HereState | 'lost' }
  /**
   * A neighbour of the member lost its link to it without a `gone` while it held this presence (or a
   * newer one): the member may have left. The notice, to pass on to neighbours that link later.
   */
  readonly lost?: Lost
  /** No newer presence came within `lostGraceMs` of `lost`: this one no longer says the member is there. */
  readonly lostShown?: true
}

/**
 * The bytes a chain hash covers: everything the origin wrote except `prev` (hashed separately), and
 * except `hops` and `sig`, which relays change or which sign the result. `lines` is left out too, so a
 * release that does not know it still checks the chain of a message that has it (and shows its lines as
 * one message): it only says how to cut text that is covered into lines, each shown under the same sender.
 * So is `more` (the last line goes on in the next message), for the same reason: it says how covered text
 * is joined, and a release that does not know it shows each part as a line.
 */
export function canonicalMsg(msg: Msg): string {
  return JSON.stringify(['parley-msg/1', msg.from, msg.seq, msg.id, msg.ts, msg.name ?? null, msg.body])
}

export interface RoomOptions {
  readonly self: PeerInfo
  readonly auth?: MessageAuth
  /** Recent messages kept per origin, for relaying and catching neighbours up. Default 1000. */
  readonly windowSize?: number
  /** Bytes kept per origin's window, and in all windows together (`WINDOW_BYTES`, `WINDOWS_TOTAL_BYTES`). */
  readonly windowBytes?: { readonly each?: number; readonly total?: number }
  /** Unverified or out-of-order messages buffered from one neighbour. Default 4096. */
  readonly waitingCap?: number
  /** Members (origins) this node keeps, besides itself. Default 1000. */
  readonly maxOrigins?: number
  /** Hops a message may still travel, at most, whatever it claims. Default DEFAULT_HOPS. */
  readonly hopLimit?: number
  /** Bytes a neighbour's link may make this node hold, and all of them together (`DEFAULT_LINK_BUDGETS`). */
  readonly budgets?: Partial<LinkBudgets> | undefined
  /** Direct neighbours at most; one more that this node did not dial is refused. Default 128. */
  readonly maxNeighbors?: number | undefined
}

/** What the journal knew of one origin at start-up. */
export interface RestoredOrigin {
  readonly peer: PeerInfo
  /** Highest contiguous seq received (every one of them was shown). */
  readonly received: number
  /** The newest of them, oldest first, ending at `received`. */
  readonly log: readonly Msg[]
  /** This node had a link to it. */
  readonly neighbor: boolean
  /** It restarted without its journal, and nothing of its new numbering came since (`Origin.awaitsOwnLink`). */
  readonly reset?: boolean
  /** With `reset`: `Origin.resetAfter`, as the journal recorded it. */
  readonly resetAfter?: number | undefined
}

export interface RestoredRoom {
  readonly origins: Iterable<RestoredOrigin>
  /** The seq our next message gets. */
  readonly nextSeq: number
  /** Our messages some neighbour has not acknowledged, oldest first. */
  readonly outbox: readonly Msg[]
  /** Our newest messages (at least the outbox, at most the window or the outbox), oldest first. */
  readonly recent?: readonly Msg[]
  /** Our newest message, acknowledged or not: our chain continues from it. */
  readonly lastSent?: Msg
}

export type RefusalCode =
  | 'FORGED'
  | 'TOO_MANY_ORIGINS'
  | 'FLOOD'
  | 'OVER_QUOTA'
  | 'OVER_BUDGET'
  | 'TOO_MANY_NEIGHBORS'

/** A neighbour that broke the room's rules: the node closes its link with `code`. */
export interface Refusal {
  readonly neighbor: string
  readonly code: RefusalCode
  readonly message: string
}

/**
 * What the room decided, as data; the node carries the effects out in one place, in a fixed order:
 * `fork`, `refuse`, `send`, `resume`, then `jump` and `accept` are persisted together, accepted messages are
 * relayed at once, and once durable, `join` is announced and each accepted message is shown (then
 * `markShown`), which lets acks claim it.
 */
export type RoomEffect =
  /** Close the neighbour's link: it broke the room's rules. */
  | { readonly type: 'refuse'; readonly refusal: Refusal }
  /** Write this to the neighbour's link now. */
  | { readonly type: 'send'; readonly neighbor: string; readonly message: Ack }
  /** Write this presence (`here` frame) to the neighbour's link now, with the sends. */
  | { readonly type: 'tell'; readonly neighbor: string; readonly message: Here | Lost }
  /** The neighbour said what it has: its link may carry what it lacks (see `outgoing`). */
  | { readonly type: 'resume'; readonly neighbor: string }
  /**
   * A message accepted, in order: relay it, persist it, then show it under `from` (its origin as it goes
   * by once this message is taken: renamed by it, or not) and call `markShown`. `former`: `from` is a name
   * the origin went by when it wrote this message, older than the one it goes by now (history a newcomer
   * is caught up on): the message is shown under it, and it renames nothing.
   */
  | { readonly type: 'accept'; readonly msg: Msg; readonly from: PeerInfo; readonly former?: true }
  /** An origin's watermark jumped forward (its window moved on): persist it as a journal `base` record. */
  | { readonly type: 'jump'; readonly peer: PeerInfo; readonly seq: number }
  /** A member seen for the first time, through a relay. */
  | { readonly type: 'join'; readonly peer: PeerInfo }
  /** Our own stream went back behind what a neighbour has of it: tell the user (see `OwnFork`). */
  | ({ readonly type: 'fork' } & OwnFork)

/**
 * A neighbour's ack says it has our messages up to `upTo`, but we never made that many (`newest` is our
 * newest now) or our message `upTo` is another one: our data dir was restored from an older copy, and the
 * seqs we make now repeat ones the neighbour already has, which it would drop as copies and acknowledge.
 * Only that neighbour is held back: a peer that lies so cannot stop our messages to anyone else.
 */
export interface OwnFork {
  readonly neighbor: string
  readonly upTo: number
  readonly newest: number
}

/** One thing to write on a neighbour's link: a message, or a notice that an origin's window moved on. */
export type Outgoing =
  | { readonly kind: 'msg'; readonly msg: Msg }
  | { readonly kind: 'base'; readonly origin: string; readonly seq: number }

export interface RoomMember {
  readonly peer: PeerInfo
  /** A neighbour: this node has (had) a link to it. */
  readonly direct: boolean
  /** A neighbour: its link is open now. A relayed member: some neighbour that relays is connected. */
  readonly connected: boolean
  /** A neighbour whose link is down while some neighbour that relays is connected: it may come that way. */
  readonly throughMesh?: true
  /** Its newest presence (`here` frame), when one is held. */
  readonly here?: HeldHere
}

export interface Candidate {
  readonly msg: Msg
  readonly trusted: boolean
  /** The chain hash, computed once. */
  hash?: string
  /** What it counts against its neighbour's reorder budget. */
  readonly bytes: number
}

/**
 * Seqs of an origin skipped on a relay's word that its window starts later (`bases`): kept open, so
 * another neighbour can still deliver them, late. `expect` is the chain hash message `hi` must have (the
 * `prev` of the signed run after it), so a copy is checked without a signature of its own.
 */
export interface Gap {
  lo: number
  hi: number
  expect: string
  /** Per neighbour, the run of gap messages it sent, ascending and contiguous. */
  readonly runs: Map<string, Candidate[]>
}

export interface Origin {
  peer: PeerInfo
  /** Highest contiguous seq accepted (maybe not durable yet). */
  received: number
  /** Highest seq durable and shown: what acks and `have` maps claim. */
  shown: number
  /** Highest seq whose origin signature checked (or every accepted one, without a MessageAuth). */
  verified: number
  /** Chain hash of message `received`, when known. */
  head?: string
  /**
   * Messages after `verified` were taken straight from the origin without checking their chain, since no
   * neighbour could be sent them: they are checked (`checkDeferred`) before any is relayed.
   */
  deferred?: boolean
  /** Recent messages, ascending and contiguous, ending at `received`. */
  log: Msg[]
  /** What `log` holds in bytes (`weigh`); 0 for this node's own. */
  logBytes: number
  /** Candidates for seqs after `received`, per neighbour that sent them. */
  waiting: Map<number, Map<string, Candidate>>
  /** At least one message accepted, or known from the journal or a link: not a relay's invention. */
  known: boolean
  /** The seq this not-yet-known origin started at (a jump), persisted once it becomes known. */
  jumpedTo?: number
  /** Seqs skipped on a relay's word, still open for another path to fill. */
  gap?: Gap
  /**
   * Its messages up to this seq were written before its latest hello to us (`named:N`), under a name
   * older than that hello's: they go by its name here and rename it to nothing, whatever path they come by.
   */
  namedUpTo?: number
  /**
   * It restarted without its journal (a new epoch) and nothing of its new numbering came yet: its messages
   * are taken from its own link only until one does. A new numbering begins from the same genesis as the
   * old one, so a relayed copy of an old message, honest or replayed, would pass for the new one at its seq
   * (shown twice, and the new one at that seq taken for a copy and lost).
   */
  awaitsOwnLink: boolean
  /**
   * With `awaitsOwnLink`: when the newest message held of its old numbering was written (its own clock).
   * A relayed message written later is of the new numbering, as `isStaleFork` judges a relayed fork, so a
   * member whose own link went before it said anything is not cut off from the room meanwhile.
   */
  resetAfter?: number | undefined
  /**
   * With `awaitsOwnLink`: the date (its clock) of the first presence it sent on the link that announced
   * its reset. Its new numbering ran by then and its old one had stopped, so a relayed message dated no
   * earlier is of the new one, even where a relay's window of it starts later than anything held here.
   */
  resetAt?: number | undefined
  /** With `awaitsOwnLink`: the link that announced its reset is open, and no presence came on it yet. */
  resetPresenceDue?: boolean
  /**
   * Its newest presence (`here` frame), when one came: a member known only by it is listed (as a
   * lurker) though no message of it was taken. Not journaled.
   */
  here?: HeldHere
}

/** What a neighbour's hello said of itself, as its link opens. */
export interface NeighborLink {
  readonly name: string
  /** It speaks the room protocol. */
  readonly relays: boolean
  /** Its own messages up to this seq were written before that hello (`Neighbor.namedUpTo`). */
  readonly namedUpTo?: number | undefined
  /** Where its link came from (`Link.source`), when it dialed in: its catch-up shares that source's allowance. */
  readonly source?: string | undefined
}

export interface Neighbor {
  readonly id: string
  /** What the neighbour has of each origin (learned from its acks and from what it sends). */
  readonly has: Map<string, number>
  /** What the current link carried of each origin. */
  readonly sentUpTo: Map<string, number>
  /** What our acks told it we have, for `have` deltas. */
  readonly told: Map<string, number>
  /** What our acks last told it of its own stream on this link (-1: nothing yet). */
  toldUpTo: number
  /** Where our stream of each origin starts on this link (we said so in `bases`), above 0; held until it resumes. */
  readonly floor: Map<string, number>
  /** Where its stream of each origin starts on this link (it said so in `base` and `bases`). */
  readonly bases: Map<string, number>
  /** It speaks the room protocol: it takes messages of other origins. */
  relays: boolean
  /**
   * Its own messages up to this seq were written before the hello of its current link, under a name older
   * than that hello's: they rename nothing. Every seq when its hello did not say (an earlier release): its
   * link goes by its hello's name until it links again, as those releases expect.
   */
  namedUpTo: number
  /** It restarted without its journal: on its next link it gets only what is new, as it already saw the rest. */
  restarted: boolean
  /** It has our stream further, or otherwise, than we do (`OwnFork`): it is sent none of ours, its acks of ours do not count. */
  forked: boolean
  open: boolean
  /** Its first ack on the current link arrived: it said what it has, so we may send. */
  resumed: boolean
  /** Candidates it sent that wait in some origin's buffer. */
  waiting: number
  /** Where its current link came from, when it dialed in (`NeighborLink.source`). */
  source: string | undefined
  /**
   * Its catch-up: per origin, the newest seq it lacked that we could send when its link resumed. What it
   * is sent up to there counts against the catch-up allowances (`CatchUpBudget`); an entry goes once sent.
   */
  readonly catchUp: Map<string, number>
  /** Bytes of the catch-up message that waited for the allowances last (0: none waits). */
  pacedFor: number
  /** Its allowance of origins named in acks (`have` and `bases` entries), refilled at ACK_ENTRY_RATE. */
  ackEntries: number
  ackRefilledAt: number
  /**
   * Its last link ended with its leaving (`bye`), or it has not linked since this node started (a
   * neighbour restored from the journal): not said to be reachable through the mesh.
   */
  left?: boolean
}

/** Messages kept per origin for relaying, unless the node says otherwise. */
export const DEFAULT_WINDOW = 1000

/**
 * Messages a neighbour may send in a row without signing one while they are to be relayed: twice the
 * burst a node signs at least once in (`MAX_BURST`, 100). Past it the neighbour is refused (`FORGED`), as
 * what is not checked yet stays in its window whatever the window's bytes.
 */
export const MAX_UNSIGNED_RUN = 200

/**
 * Bytes (`weigh`) one other member's window holds at most, besides its count: 1,000 short lines fit
 * (about 220 KiB), a run of the longest messages keeps its newest hundred or so. What is not shown or
 * checked yet is never dropped for it.
 */
export const WINDOW_BYTES = 1024 * 1024

/**
 * Bytes every other member's window holds together: past it, the largest windows are cut down until all
 * of them hold three quarters of it. Windows are what this node relays and catches others up from, so a
 * flood of members made up by a hostile neighbour (each a throwaway key) costs catch-up depth, not memory.
 * Counted as `weigh` does, in UTF-16 units: text outside Latin-1 takes twice that in memory (64 MiB), and
 * up to three times on disk. A full room of 1,000 members keeps 32 KiB each, about 150 short lines.
 */
export const WINDOWS_TOTAL_BYTES = 32 * 1024 * 1024

/**
 * The one level to cut the largest of `sizes` (largest first) down to, so that together they come to
 * `target`: what the rest hold plus k × level, where the k largest are cut. The room's windows and the
 * journal's replay of them are cut by it.
 */
export function cutLevel(sizes: readonly number[], target: number): number {
  let rest = sizes.reduce((sum, size) => sum + size, 0)
  let level = 0
  for (let k = 1; k <= sizes.length; k++) {
    rest -= sizes[k - 1] as number
    level = Math.floor((target - rest) / k)
    if (level >= (sizes[k] ?? 0)) break
  }
  return Math.max(0, level)
}

/** The room's limits when the options leave them out. */
export const ROOM_DEFAULTS = {
  windowSize: DEFAULT_WINDOW,
  waitingCap: 4096,
  maxOrigins: 1000,
  maxNeighbors: 128,
} as const

/**
 * Origins a neighbour may name in its acks (`have` and `bases` entries): a sustained rate per second and
 * a burst. An honest one names each member once when its link opens (1,000 for a full room, in both
 * maps), then only members whose messages it showed since its last ack.
 */
export const ACK_ENTRY_RATE = { perSecond: 8_192, burst: 32_768 } as const

/** The most seqs of one origin a gap keeps open: a burst's worth, which a neighbour's buffer can hold to check. */
export const MAX_GAP = 100

/**
 * Gaps kept open at once; opening one more closes the oldest. Each open gap makes every neighbour that
 * links later resend that origin's window (it is not claimed), so their number bounds that cost.
 */
export const MAX_GAPS = 64

export function newOrigin(peer: PeerInfo, received: number): Origin {
  return {
    peer,
    received,
    shown: received,
    verified: received,
    log: [],
    logBytes: 0,
    waiting: new Map(),
    known: false,
    awaitsOwnLink: false,
  }
}

/** The error a refused neighbour's link is closed with. */
export function refusalError(refusal: Refusal): ProtocolError {
  return new ProtocolError(refusal.code, refusal.message)
}

export function refuse(refusal: Refusal): RoomEffect {
  return { type: 'refuse', refusal }
}

export function raise(map: Map<string, number>, key: string, value: number): void {
  if (value > (map.get(key) ?? 0)) map.set(key, value)
}

/** A batch of room effects sorted into the order the node carries them out (see `RoomEffect`). */
export interface EffectPlan {
  readonly refusals: Refusal[]
  readonly sends: { readonly neighbor: string; readonly message: Ack | Here | Lost }[]
  readonly resumed: string[]
  readonly jumps: { readonly peer: PeerInfo; readonly seq: number }[]
  readonly accepted: Msg[]
  /** Who each accepted message is shown as sent by (its `from`). */
  readonly senders: PeerInfo[]
  /** Of `senders`, those that are a name their member went by before (`former`): they rename nothing. */
  readonly formerNames: Set<PeerInfo>
  readonly joined: PeerInfo[]
  readonly forks: OwnFork[]
}

export function planEffects(effects: readonly RoomEffect[]): EffectPlan {
  const plan: EffectPlan = {
    refusals: [],
    sends: [],
    resumed: [],
    jumps: [],
    accepted: [],
    senders: [],
    formerNames: new Set(),
    joined: [],
    forks: [],
  }
  for (const effect of effects) {
    switch (effect.type) {
      case 'refuse':
        plan.refusals.push(effect.refusal)
        break
      case 'send':
      case 'tell':
        plan.sends.push(effect)
        break
      case 'resume':
        plan.resumed.push(effect.neighbor)
        break
      case 'jump':
        plan.jumps.push(effect)
        break
      case 'accept':
        plan.accepted.push(effect.msg)
        plan.senders.push(effect.from)
        if (effect.former) plan.formerNames.add(effect.from)
        break
      case 'join':
        plan.joined.push(effect.peer)
        break
      case 'fork':
        plan.forks.push({ neighbor: effect.neighbor, upTo: effect.upTo, newest: effect.newest })
        break
      default: {
        const _exhaustive: never = effect
      }
    }
  }
  return plan
}
