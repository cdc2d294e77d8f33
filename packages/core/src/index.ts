// The public API of @parley/core: what frontends, transports and the launcher use. Each name is
// described in README.md; everything else in src/ is internal and may change without notice.

export { type Abortable, untilAborted } from './abort.js'
// The transport seam.
export type { Address } from './address.js'
export { type Clock, systemClock } from './clock.js'
// The wire format, for tools and tests that speak it directly.
export { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder } from './codec.js'
export {
  AddressError,
  ProtocolError,
  ProtocolErrorCode,
  TransportError,
  TransportErrorCode,
} from './errors.js'
export { DEFAULT_RATE_LIMIT, type RateLimit } from './inbound-gate.js'
// Durability: the journal a store makes durable, and how it is read back.
export {
  DEFAULT_WINDOW,
  type HistoryEntry,
  type Journal,
  type JournalLayout,
  type JournalRecord,
  type JournalRewrite,
  type JournalUsage,
  journalOrigin,
  type PeerProgress,
  type RestoredState,
  restore,
} from './journal.js'
export { compactJournal, MAX_JOURNAL_PEERS } from './journal-compact.js'
export { type SkimmedRecord, skimFrame } from './journal-skim.js'
export {
  checkRecord,
  JournalError,
  type JournalErrorCode,
  type JournalStart,
  JournalStartup,
} from './journal-startup.js'
export { makeHello } from './link-machine.js'
export {
  type Admission,
  type ByteRate,
  CATCH_UP_TRACKED,
  type CatchUpBudget,
  CatchUpMeter,
  type Charge,
  DEFAULT_CATCH_UP_BUDGET,
  DEFAULT_LINK_BUDGETS,
  DEFAULT_LINK_LIMITS,
  type Held,
  type HeldKind,
  type LinkAccount,
  type LinkBudgets,
  type LinkLimits,
  LinkTable,
  type LinkTableOptions,
  WATERMARK_ENTRY_BYTES,
  type WhenFull,
} from './link-table.js'
// The journal's records as JSON text, each of our messages serialized once for the journal and the wire.
export { journalRecordsJson } from './msg-json.js'
export {
  framedBytes,
  LINES_PER_MSG_CHARS,
  LINES_PER_MSG_FRAMED_BYTES,
  LINES_PER_MSG_SHOWN_BYTES,
  lineId,
  linesOf,
  shownLineBytes,
} from './msg-lines.js'
// Names: what a reader sees, what is refused, and how a name from the network is shown.
export {
  MAX_NAME_LENGTH,
  nameKey,
  nameProblem,
  namesakes,
  peerNameProblem,
  sameWrittenName,
  shownName,
} from './names.js'
// Nodes and what they tell their frontends.
export { HERE_CAP, MAX_BURST, ParleyNode, ROOM_CAP } from './node.js'
export {
  type ChatNode,
  type LinkProblem,
  type MemberInfo,
  type MessageEvent,
  messagesOf,
  NODE_DEFAULTS,
  type NodeEvent,
  type NodeOptions,
  type SendOptions,
  type SentMessage,
  type SessionInfo,
} from './node-types.js'
export {
  COMPACT_GROWTH,
  type CompactionReport,
  OnlineCompaction,
} from './online-compaction.js'
export {
  type Backoff,
  DEFAULT_BACKOFF,
  DEFAULT_REFUSAL_BACKOFF,
  isRefusal,
  type PeerInfo,
  type PeerState,
  REFUSAL_CODES,
  type Refused,
  refusalBackoff,
  SAME_KEY_REFUSAL_BACKOFF,
} from './peer-machine.js'
export { DEFAULT_HISTORY_LIMIT, DEFAULT_JOURNAL_QUOTA, type JournalQuota } from './persistence.js'
export { ENCRYPTED_NODE_REPLY, NOT_SECURE_REPLY, PlainNode, type PlainNodeOptions } from './plain-node.js'
export { PRESENCE_DEFAULTS } from './presence.js'
// Signing, which the secure package implements.
export { type HeldReport, weigh } from './room-ledger.js'
export {
  ACK_ENTRY_RATE,
  canonicalHere,
  canonicalHereReason,
  canonicalLost,
  canonicalMsg,
  type HereFields,
  type LostFields,
  type MessageAuth,
  type PresenceOptions,
  WINDOW_BYTES,
  WINDOWS_TOTAL_BYTES,
} from './room-types.js'
export { RELAYED_RECENT_MS } from './roster.js'
export { SAME_KEY } from './same-key.js'
export {
  type Here,
  type HereState,
  type Lost,
  MAX_BODY_LENGTH,
  MAX_LINES_PER_MSG,
  type Message,
  type Msg,
  PROTOCOL_VERSION,
} from './schema.js'
// Cutting text to a length without splitting a character.
export { cutText, utf8End, utf8Length } from './text-cut.js'
export type { DialOptions, Link, LinkHandlers, Listener, Transport } from './transport.js'
