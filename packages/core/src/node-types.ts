/**
 * What a node is, seen from outside: its options, its events, and the `ChatNode` interface every
 * frontend drives (a `ParleyNode` or a `PlainNode`).
 */
import type { Address } from './address.js'
import type { Clock } from './clock.js'
import type { RateLimit } from './inbound-gate.js'
import type { HistoryEntry, Journal, RestoredState } from './journal.js'
import type { LinkBudgets } from './link-table.js'
import { lineId } from './msg-lines.js'
import type { CompactionReport } from './online-compaction.js'
import type { Backoff, PeerInfo, PeerState } from './peer-machine.js'
import type { JournalQuota } from './persistence.js'
import type { MessageAuth, PresenceOptions } from './room.js'
import type { Transport } from './transport.js'

/** Timing defaults of every node. */
export const NODE_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  dialTimeoutMs: 5_000,
  keepaliveMs: 5_000,
  deadAfterMs: 14_000,
} as const

export interface NodeOptions {
  transport: Transport
  /** Display name sent in the handshake. */
  name: string
  listen: Address
  /** Peers to dial and keep dialing until they answer. */
  peers?: readonly Address[]
  /** This node's id (lowercase hex). A random one is made when absent. */
  id?: string
  clock?: Clock
  /** Source of randomness in [0, 1) for backoff jitter. */
  random?: () => number
  /**
   * Fills its argument with cryptographically random bytes, for this node's instance, message ids and (when
   * `id` is absent) id. Default: the platform's Web Crypto. A node with a source already loaded (libsodium's,
   * see `@parley/secure`'s `randomFill`) passes it: Node loads Web Crypto on first use, during the start.
   */
  randomBytes?: (into: Uint8Array) => void
  backoff?: Backoff
  /** Links that have not finished the handshake by then are dropped. */
  handshakeTimeoutMs?: number
  dialTimeoutMs?: number
  /** A ping goes out on every quiet link this often. */
  keepaliveMs?: number
  /** A link that has been silent this long is considered dead and is dropped. */
  deadAfterMs?: number
  maxFrame?: number
  caps?: string[]
  /** Where accepted messages, receipts and acks are made durable. Without one, nothing survives a restart. */
  journal?: Journal
  /** State replayed from the journal at start-up (`restore(records)`). */
  restored?: RestoredState
  /** How many history entries to keep in memory. */
  historyLimit?: number
  /** Links still in their handshake, at most, across the node (more are refused). Default 64. */
  maxHandshaking?: number
  /** Links still in their handshake, at most, from one source host. Default 8. */
  maxHandshakingPerSource?: number
  /** Messages accepted from one peer: a sustained rate and a burst allowance. `false` disables it. */
  rateLimit?: RateLimit | false
  /**
   * Vets a peer that dialed in, by its id and the listen address it announces: a reason to refuse it
   * (say, that address is known to hold another key), or undefined to accept.
   */
  checkPeer?: (peerId: string, announcedListen: string | undefined) => string | undefined
  /**
   * True when a pin names key `peerId` at address `listen`: only then does a peer that dialed in,
   * announcing an address this node dials, stand for that dial (a first contact is never taken over).
   */
  pinnedAt?: (peerId: string, listen: string) => boolean
  /**
   * Display marks: the highest seq per sender that a frontend has shown (the frontend records them as
   * it writes). Messages journaled but not shown when the process died are shown again at start.
   */
  displayed?: ReadonlyMap<string, number>
  /**
   * Signs our messages and checks relayed ones (see `MessageAuth`). Without one, nothing is signed and
   * relayed messages are taken as they come: fine for tests and trusted networks only.
   */
  auth?: MessageAuth
  /** Recent messages kept per member, to relay and to catch neighbours up. Default 1000. */
  windowSize?: number
  /**
   * Members kept at most, neighbours included. Default 1000. When the table is full a member is forgotten
   * to make room (never one whose link is open or that this node dials): first those no long-lived
   * neighbour vouches for, then the longest idle. Its watermark is kept, so nothing is shown twice.
   */
  maxOrigins?: number
  /** A neighbour whose link stayed up this long vouches for itself and the members it relays. Default 60 s. */
  memberVouchMs?: number
  /** A vouched member silent this long is ranked with unvouched ones for eviction. Default 24 h. */
  memberIdleMs?: number
  /**
   * Presence (`here` frames): how often this node says it is there (`everyMs`, default 3 min), how long a
   * member's presence lasts unrefreshed (`expiryMs`, 10 min), how far ahead one may be dated (`skewMs`,
   * 2 min), what one link may carry (`rate`, 10 a second with a burst of 600) and how many held presences
   * a neighbour is sent when its link opens (`sentOnOpen`, 500), and how long a member another neighbour lost
   * its link to may still answer before it is told as having maybe left (`lostGraceMs`, 5 s). `false`: no
   * presence is said or taken.
   */
  presence?: Partial<PresenceOptions> | false
  /** Out-of-order or unverified messages buffered from one neighbour at most. Default 4096. */
  waitingCap?: number
  /** Hops a relayed message may still travel, at most. Default 64. */
  hopLimit?: number
  /**
   * Journal bytes kept for other members, each and together (default `DEFAULT_JOURNAL_QUOTA`: 32 and
   * 256 MiB); past it their messages are refused (`OVER_QUOTA`). Needs a journal that counts (`usage`).
   */
  journalQuota?: Partial<JournalQuota>
  /** Bytes one neighbour's link may make this node hold, by kind, and all links together. */
  budgets?: Partial<LinkBudgets>
  /** Direct neighbours at most; one more that this node did not dial is refused. Default 128. */
  maxNeighbors?: number
  /**
   * For a frontend that shows many lines at once: the lines one message carried (`msg.lines`, piped
   * lines) come as one `lines` event (`oneMessage`) instead of a `message` event each.
   */
  runs?: boolean
}

/** One member of the room, as `members()` lists it. */
export interface MemberInfo {
  readonly peer: PeerInfo
  /** This node has (had) a link to it; otherwise its messages reach us through relays. */
  readonly direct: boolean
  /** Direct: its link is open now. Relayed: some neighbour that relays is connected. */
  readonly connected: boolean
  /**
   * Direct, its link down, while some neighbour that relays is connected: its messages may come through
   * the mesh (after a `/disconnect` of either end, or while it redials).
   */
  readonly throughMesh?: true
  /** The remote end of its link, when direct and connected. */
  readonly address?: string
  /** The address it says it listens on (its hello), when direct and connected. */
  readonly listen?: string
  /** When its last message was shown or its last presence taken (clock ms), if one was this run. */
  readonly lastSeen?: number
  /**
   * What its newest presence (`here` frame) says, when one is held: true while it says it is in the room
   * and is fresh (refreshed within `presenceExpiryMs`), false once it said it left or stopped saying so.
   */
  readonly present?: boolean
  /** When its newest presence was made (ms since the epoch, its clock), when one is held. */
  readonly hereAt?: number
}

/** A remote end that broke the protocol, or a transport failure on a link. */
export interface LinkProblem {
  /** The link's remote end (for a peer that dialed in, the passing port it dialed from). */
  readonly address: string
  readonly code: string
  readonly message: string
  /** Who the peer said it was, when its hello had come: a frontend names it so, not by `address`. */
  readonly peer?: PeerInfo
  /** Where that peer says it listens (its hello), when it said. */
  readonly listen?: string
}

export type NodeEvent =
  | { readonly type: 'listening'; readonly address: string }
  /** A peer this node dials changed state. `target` is the address it dials. */
  | { readonly type: 'peer-state'; readonly target: string; readonly state: PeerState }
  | {
      readonly type: 'connected'
      readonly peer: PeerInfo
      readonly address: string
      readonly direction: 'inbound' | 'outbound'
      /** The address the peer says it listens on (its hello), to show instead of an ephemeral source port. */
      readonly listen?: string
      /** Ids of other peers this node knows under the same name: never the same person by name alone. */
      readonly sameNameAs?: readonly string[]
      /** A redial while the peer keeps refusing us (or we it): the refusal was told once already. */
      readonly afterRefusal?: true
      /**
       * Its old link was open still, not yet seen dead, and this one replaced it: no `disconnected` came
       * between. `restarted`: this link is from another run of its key (killed and started again within
       * the dead-link timeout); `relinked`: from the same run (its old link broke without either end seeing it).
       */
      readonly replaced?: 'restarted' | 'relinked'
    }
  /** `refusal`: the link ended in a refusal (`REFUSAL_CODES`), which the dialing now backs off from. */
  | {
      readonly type: 'disconnected'
      readonly peer: PeerInfo
      readonly reason: string
      readonly refusal?: string
      /** The peer said it leaves (its `bye`, not a `/disconnect` of this link nor a refusal): no failure. */
      readonly left?: true
    }
  /**
   * A member reached only through relays said it left the room (its `gone` presence, sent when it quits).
   * A neighbour's leaving is its `disconnected` event instead.
   */
  | {
      readonly type: 'member-left'
      readonly peer: PeerInfo
      /** When it said so: its `gone` presence's date (ms since the epoch, its clock). */
      readonly at?: number
      /**
       * Why, in its own words (its `bye` reason, `/quit back tomorrow`), each run of blank space one space;
       * absent when its `gone` carried none, or one it did not sign.
       */
      readonly reason?: string
    }
  /**
   * A neighbour of a member (`by`, which signed it) lost its link to it without the member saying it left
   * (it was killed, or lost its network): it may have left the room, and its presence (dated `at`, its
   * clock) no longer says it is there. Its next presence, if it is there, is told as a `member` event with
   * `hereAt`. A neighbour's own link loss is its `disconnected` event instead.
   */
  | { readonly type: 'member-lost'; readonly peer: PeerInfo; readonly by: PeerInfo; readonly at: number }
  /**
   * A member seen for the first time this run: `relay` when its first message or its presence came through
   * another node (a join notice), `direct` when it first connected.
   * Sent again when a member shows up under another name (`renamedFrom`): a rename is never silent.
   */
  | {
      readonly type: 'member'
      readonly peer: PeerInfo
      readonly via: 'direct' | 'relay'
      readonly sameNameAs?: readonly string[]
      readonly renamedFrom?: string
      /**
       * `relay`: when the newest message it was first seen in was sent (ms since the epoch, its clock).
       * Old messages relayed to a joiner say the member wrote in the room, not that it is there now.
       */
      readonly lastSent?: number
      /**
       * Its presence, dated `hereAt` (ms since the epoch, its clock), says it is in the room now, after it was
       * announced only by messages sent long ago (`lastSent` older than `RELAYED_RECENT_MS`); a presence dated
       * no later than them says nothing more, and is not told. Sent once, with
       * `via: 'relay'` and no `lastSent` (a rename told then carries it too): a consumer that does not know
       * the field reads it as a relayed member that is in the room.
       */
      readonly hereAt?: number
    }
  | {
      readonly type: 'message'
      readonly id: string
      readonly seq: number
      readonly ts: number
      readonly from: PeerInfo
      readonly body: string
      /**
       * Shown again at start: journaled but not marked as shown when the last run died, so it may (rarely,
       * when the kill fell between a write and its mark) have been shown once already. Same `id`.
       */
      readonly replayed?: true
      /**
       * With `replayed`: when the last run received it (ms since the epoch, this node's clock), where the
       * journal kept that: for a message its sender dated later (`HistoryEntry.at`).
       */
      readonly at?: number
      /** The line goes on in the sender's next message (`msg.more`): a part of a long line. */
      readonly more?: true
    }
  /**
   * Lines that came together, from a node made with `runs`: the lines of one read of a plain link (see
   * `PlainNodeOptions`), or the lines one `msg` carried (`msg.lines`, `oneMessage`). What a `message` event
   * per line would say: line `i` is `bodies[i]`, with seq `firstSeq + i` and id `${idPrefix}${firstSeq + i}`,
   * or, for `oneMessage`, seq `firstSeq` and id `lineId(idPrefix, i)`. No body holds a newline.
   * `messagesOf` turns it into those events.
   */
  | {
      readonly type: 'lines'
      readonly from: PeerInfo
      readonly firstSeq: number
      readonly idPrefix: string
      readonly ts: number
      readonly bodies: readonly string[]
      /** The lines of one message: one seq, ids made from the message's id (`idPrefix`). */
      readonly oneMessage?: true
      /** With `oneMessage`: its last line goes on in the sender's next message (`msg.more`). */
      readonly more?: true
    }
  /**
   * A message left this node for `to`. From a plain node made with `runs`, one event per write: for the
   * last line of it, the lines before it on that link having gone too.
   */
  | { readonly type: 'delivered'; readonly id: string; readonly seq: number; readonly to: PeerInfo }
  /**
   * The outbox shrank: every neighbour it waits for has our messages up to `upTo`, and `pending` still
   * wait. Mostly right after `delivered` events; but also with none, when a dialed address answers for the
   * first time (or turns out to be a peer already in session), or a peer that dialed us leaves: messages
   * acknowledged earlier then leave the outbox. Whoever waits for the outbox to empty watches this.
   */
  | { readonly type: 'settled'; readonly upTo: number; readonly pending: number }
  /**
   * This node's data dir is older than what `peer` has seen of it (it was restored from an older copy):
   * `peer` has our messages up to `upTo`, and ours by those numbers are others (or do not exist: `newest` is
   * our newest). New messages would repeat numbers it has, so for the rest of this run `peer` is sent none
   * of ours and none of its acks counts: the outbox, which waits for it, keeps them (`pending` lines now).
   * Emitted once per peer.
   */
  | {
      readonly type: 'forked'
      readonly peer: PeerInfo
      readonly upTo: number
      readonly newest: number
      readonly pending: number
    }
  /**
   * Two live nodes run with `peer`'s key (its data dir was copied and both copies started): a process
   * that lost the key's link to another came back. Emitted once per key. `addresses` are where each one's
   * link came from (the one that holds the link first), with the address it announced. From now on one
   * of them holds the link while it is there, the same one at every neighbour (the lower instance), and
   * the other is turned away (`SAME_KEY`).
   */
  | {
      readonly type: 'same-key'
      readonly peer: PeerInfo
      readonly addresses: readonly { readonly address: string; readonly listen?: string }[]
    }
  /**
   * `peer` says another node runs with this node's key: it took the link from this one, or holds it in
   * its place (`SAME_KEY` in its bye). This node redials it less often meanwhile. Emitted once.
   */
  | { readonly type: 'key-in-use'; readonly peer: PeerInfo }
  | ({ readonly type: 'link-error' } & LinkProblem)
  /** The journal could not be written: messages are no longer made durable. Emitted once, for the first failure. */
  | { readonly type: 'journal-error'; readonly message: string }
  /** The journal was compacted while the node runs (see `Journal.compaction`): records and bytes before and after. */
  | ({ readonly type: 'journal-compacted' } & CompactionReport)
  /** A compaction while the node runs was not done; the journal is unchanged and still in use. */
  | { readonly type: 'journal-compaction-failed'; readonly message: string }
  /** A peer is rate-limiting our messages: they wait in the outbox, none is lost. */
  | { readonly type: 'throttled'; readonly peer: PeerInfo; readonly retryMs: number }
  /** A peer stopped reading (its socket buffer is full), or started again. */
  | { readonly type: 'backpressure'; readonly peer: PeerInfo; readonly blocked: boolean }
  /** Dialing `target` failed for a new reason (repeats of the same reason are not reported again). */
  | { readonly type: 'dial-error'; readonly target: string; readonly code: string; readonly message: string }
  | { readonly type: 'closed' }

export interface SentMessage {
  readonly id: string
  readonly seq: number
  readonly ts: number
  /**
   * Resolves once the message is durable in the outbox (at once without a journal); never when the journal
   * failed first (the `journal-error` event): the message is then not sent.
   */
  readonly durable: Promise<void>
}

/** How `send` sends a message. */
export interface SendOptions {
  /** The message's last line goes on in the next message (`msg.more`); false or absent, it ends there. */
  readonly more?: boolean
}

/** What every frontend drives: a parley node (`ParleyNode`) or a plain-text one (`PlainNode`). */
export interface ChatNode {
  readonly id: string
  readonly name: string
  readonly self: PeerInfo
  readonly address: Address
  readonly pending: number
  readonly history: readonly HistoryEntry[]
  on(listener: (event: NodeEvent) => void): () => void
  start(): Promise<Address>
  connect(target: Address): void
  /** Stops dialing `target` and closes the link that dial made; false when it is not dialed. */
  disconnect(target: Address): boolean
  /** `more`: the text's last line goes on in the next message sent (a long line sent in parts). */
  send(body: string, options?: SendOptions): SentMessage
  /**
   * Sends each body as one message, in order, as `send` would one by one: for piped input, where a plain
   * node hands a whole read of lines over at once. Bodies are at most `MAX_BODY_LENGTH` long.
   */
  sendLines(bodies: readonly string[]): void
  rename(name: string): void
  sessionsSnapshot(): SessionInfo[]
  /** Every member of the room this node knows of, direct or relayed. */
  members(): MemberInfo[]
  peerStates(): { target: string; state: PeerState }[]
  whenDelivered(timeoutMs: number): Promise<number>
  /**
   * Nothing more will be sent (a one-shot send's input ended and what it sent was delivered). A plain
   * node, whose peers acknowledge nothing, ends its links and waits up to `timeoutMs` for each peer to
   * close in turn. A parley node, whose peers acknowledge every message, has nothing to do.
   * @returns how many messages were written to a peer that read none of them (plain mode only)
   */
  finishSending(timeoutMs: number): Promise<number>
  close(reason?: string): Promise<void>
}

export interface SessionInfo {
  readonly peer: PeerInfo
  readonly connected: boolean
  /** The remote end of the session's link. */
  readonly address?: string
  /** This node's end of the session's link. */
  readonly localAddress?: string
}

/** A `message` event as it reaches listeners. */
export type MessageEvent = Extract<NodeEvent, { type: 'message' }>

/** The `message` events a `message` or `lines` event stands for, in order; none for any other event. */
export function messagesOf(event: NodeEvent): MessageEvent[] {
  if (event.type === 'message') return [event]
  if (event.type !== 'lines') return []
  const { from, firstSeq, idPrefix, ts, oneMessage, more } = event
  const last = event.bodies.length - 1
  return event.bodies.map((body, i): MessageEvent => {
    const message: MessageEvent = {
      type: 'message',
      id: oneMessage ? lineId(idPrefix, i) : `${idPrefix}${firstSeq + i}`,
      seq: oneMessage ? firstSeq : firstSeq + i,
      ts,
      from,
      body,
    }
    return more && i === last ? { ...message, more } : message
  })
}
