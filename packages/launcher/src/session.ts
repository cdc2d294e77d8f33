import {
  type Address,
  type ChatNode,
  DEFAULT_REFUSAL_BACKOFF,
  MAX_BODY_LENGTH,
  type NodeEvent,
  type PeerInfo,
  type PeerState,
  ProtocolError,
  RELAYED_RECENT_MS,
  type Refused,
  SAME_KEY,
  SAME_KEY_REFUSAL_BACKOFF,
} from '@parley/core'
import { fingerprint, isKeyHex, keyOfAddress } from '@parley/secure/keys'
import { type BootstrapNode, bootstrapFlag, type LinkRoute } from './dht.js'
import { clockTime, countText } from './display.js'
import { describeRoute } from './link-routes.js'
import { dialProblem } from './transports.js'

/** A status line for people, or undefined for events that are not status (messages, deliveries). */
export interface StatusLine {
  readonly level: 'info' | 'warn'
  readonly text: string
  /**
   * Lines that go on below `text`, each shown on its own line: a refusal this node wrote out over several
   * lines (the banner of a changed key). Our own words, never a peer's: a frontend shows `text` on one line
   * whatever it holds, so that nothing a peer sends can start a line.
   */
  readonly more?: readonly string[]
}

/** The peer of a dropped link: by name once its hello came (at its listen address), else by address. */
function droppedPeer(event: { address: string; peer?: PeerInfo; listen?: string }): string {
  if (!event.peer) return `peer at ${targetLabel(event.address)}`
  // As a connect line shows it: the announced address (checked against pins and known keys when the
  // hello was accepted), with a wildcard host taken from the link.
  const where = event.listen ? listenAddressOf({ address: event.address, listen: event.listen }) : undefined
  // Over the DHT its address is its key, which its fingerprint already names.
  const at = where && keyOfAddress(where) !== event.peer.id ? ` at ${targetLabel(where)}` : ''
  return `${event.peer.name} [${shortId(event.peer.id)}]${at}`
}

/** A link's message that starts by naming the peer at `address` (`peer at ADDRESS …`), with "it" instead. */
function withoutAddress(message: string, address: string): string {
  const named = `peer at ${targetLabel(address)} `
  return message.startsWith(named) ? `it ${message.slice(named.length)}` : message
}

/** A refusal of this node's own (`UNTRUSTED`) written over several lines: its first line, and the rest. */
function ownLines(line: StatusLine, code: string): StatusLine {
  if (code !== 'UNTRUSTED' || !line.text.includes('\n')) return line
  const [text, ...more] = line.text.split('\n')
  return { ...line, text: text!, more }
}

/** What the words of status lines depend on beyond the event. */
export interface DescribeOptions {
  /** `--bootstrap`: the private DHT this node is on, which a peer told how to reach it must look on too. */
  readonly bootstrap?: readonly BootstrapNode[]
  /** When this node started (ms, its clock): a member's leaving from before then is told with its time. */
  readonly startedAt?: number
  /** How far members' clocks may be behind this one's (`clockSlackFrom`), for `startedAt`. */
  readonly clockSlackMs?: number
}

/**
 * The words every frontend uses for connection events, so both tell the same story. Given the `route`
 * that `startNode` passes with a `connected` event, the line also says how its link was made.
 * @param selfId this node's id: a peer that takes this node's own name is told so, not as a stranger's key
 */
export function describeEvent(
  event: NodeEvent,
  route?: LinkRoute,
  selfId?: string,
  options: DescribeOptions = {},
): StatusLine | undefined {
  switch (event.type) {
    case 'listening': {
      const key = keyOfAddress(event.address)
      // On a private DHT the peer must look there too, or it looks on the public one and never finds us.
      return {
        level: 'info',
        text:
          key === undefined
            ? `listening on ${event.address}`
            : `listening on the DHT under your key: others reach you with parley${bootstrapFlag(options.bootstrap)} --peer ${fingerprint(key).full}`,
      }
    }
    case 'peer-state':
      return describePeerState(targetLabel(event.target), event.state)
    case 'connected': {
      // A redial while the peer keeps refusing us: the refusal was told once, its redials are not news.
      if (event.afterRefusal) return undefined
      const how = describeRoute(route)
      const at = keyOfAddress(event.address) === undefined ? peerAt(event) : ' over the DHT'
      const line = `connected to ${event.peer.name} [${shortId(event.peer.id)}]${at}${how}${replacedText(event.replaced)}`
      if (event.sameNameAs) {
        return {
          level: 'warn',
          text: `${line}; WARNING: ${clashText(event.peer.name, event.sameNameAs, selfId)}: this may not be who you think`,
        }
      }
      return { level: 'info', text: line }
    }
    case 'disconnected':
      // A refusal is told by the peer-state line that follows, once for a row of them.
      if (event.refusal !== undefined) return undefined
      // With its fingerprint, as "connected to" names it: a look-alike's leaving is not the real one's. A
      // peer that said it leaves is news, not a warning.
      return {
        level: event.left ? 'info' : 'warn',
        text: `disconnected from ${event.peer.name} [${shortId(event.peer.id)}]: ${event.reason}`,
      }
    case 'member':
      if (event.renamedFrom !== undefined) {
        const line = describeRename(event.peer, event.renamedFrom, event.sameNameAs, selfId)
        // Its presence says it is there after old messages only said it wrote there.
        if (event.hereAt === undefined) return line
        return { ...line, text: `${line.text} (it is in the room now, through another member)` }
      }
      // A direct member is announced by "connected"; a relayed one only here, and its leaving by its presence.
      if (event.via === 'direct') return undefined
      if (event.sameNameAs) {
        return {
          level: 'warn',
          text: `${relayedMember(event)}; WARNING: ${clashText(event.peer.name, event.sameNameAs, selfId)}: this may not be who you think`,
        }
      }
      return { level: 'info', text: relayedMember(event) }
    case 'member-left': {
      // With its fingerprint, as its arrival named it: a look-alike's leaving is not the real one's. Its
      // reason in brackets, as a neighbour's `bye` is told (`alice left (back tomorrow)`).
      const why = event.reason === undefined ? '' : ` (${event.reason})`
      const left = `${event.peer.name} [${shortId(event.peer.id)}] left the room${why}`
      // Told by a neighbour as this run starts, it is no news of the moment (the last run may have told it).
      const { startedAt, clockSlackMs = 0 } = options
      if (event.at === undefined || startedAt === undefined || event.at >= startedAt - clockSlackMs)
        return { level: 'info', text: left }
      const day =
        new Date(event.at).toDateString() === new Date(startedAt).toDateString() ? '' : `${isoDay(event.at)} `
      return { level: 'info', text: `${left} at ${day}${clockTime(event.at)}, before this run started` }
    }
    case 'member-lost':
      // With both fingerprints: a look-alike's claim is not the real neighbour's, nor about the real member.
      return {
        level: 'info',
        text: `${event.peer.name} [${shortId(event.peer.id)}] may have left the room: ${event.by.name} [${shortId(event.by.id)}] lost its link to ${event.peer.name} without a goodbye`,
      }
    case 'link-error':
      // A connection whose other end went away in its handshake was not dropped: it left. The losing link
      // of two peers dialing each other at once ends so. It is in the log, not on screen.
      if (event.code === 'RESET' || event.code === 'CLOSED') return undefined
      // Dialing itself drops both ends of one link: the dial's "gave up on ADDRESS" line says it once.
      if (event.code === 'SELF') return undefined
      // A peer that refused this node's key on the link it opened: said once, not "X was dropped: X refused".
      if (event.code === 'REFUSED') {
        const why = /refused the link: (.*)$/.exec(event.message)?.[1] ?? event.message
        return { level: 'warn', text: `${droppedPeer(event)} refused the link: ${why} [REFUSED]` }
      }
      // A silent neighbour's link ends its session: "disconnected from X: peer sent nothing …" says it once.
      if (event.code === 'SILENT' && event.peer) return undefined
      // A peer whose hello came is named, and shown where it listens, not at the port it dialed from; a
      // message that names the peer by its address again says "it" (`… was dropped: it is not speaking …`).
      return ownLines(
        {
          level: 'warn',
          text: `${droppedPeer(event)} was dropped: ${withoutAddress(event.message, event.address)} [${event.code}]`,
        },
        event.code,
      )
    case 'throttled':
      return {
        level: 'warn',
        text: `${event.peer.name} is throttling you (you send faster than it accepts); your messages wait in the outbox, none is lost`,
      }
    case 'backpressure':
      return event.blocked
        ? {
            level: 'warn',
            text: `${event.peer.name} is not reading; holding your messages until it catches up`,
          }
        : { level: 'info', text: `${event.peer.name} is reading again` }
    case 'dial-error':
      // A peer that is not a secure parley node is given up on at once: "gave up" says it, once.
      if (event.code === 'NOT_SECURE') return undefined
      if (event.code === 'ENCRYPTED_PEER')
        return { level: 'warn', text: `gave up on ${targetLabel(event.target)}: ${event.message}` }
      return event.code === 'CONNECTION_REFUSED'
        ? { level: 'info', text: `${targetLabel(event.target)} is not answering yet; will keep trying` }
        : ownLines({ level: 'warn', text: dialFailure(event.target, event.message) }, event.code)
    case 'journal-error':
      return { level: 'warn', text: `cannot write the data dir: ${event.message}` }
    case 'forked':
      return { level: 'warn', text: forkedText(event) }
    case 'same-key':
      return { level: 'warn', text: sameKeyText(event.peer, event.addresses) }
    case 'key-in-use':
      return {
        level: 'warn',
        text: `${event.peer.name} [${shortId(event.peer.id)}] says another node runs with your key and is connected to it in this one's place (a copied data dir?); stop one of them: each node needs its own data dir (parley id shows a node's key); meanwhile this one tries again every ${seconds(SAME_KEY_REFUSAL_BACKOFF.maxMs)} at most`,
      }
    case 'journal-compacted':
      return { level: 'info', text: compactionNote(event) }
    case 'journal-compaction-failed':
      return { level: 'warn', text: event.message }
    case 'closed':
      return { level: 'info', text: 'closed' }
    case 'message':
    case 'lines':
    case 'delivered':
    case 'settled':
      return undefined
    default: {
      const _exhaustive: never = event
      return _exhaustive
    }
  }
}

/**
 * What happened when this node's data dir turned out older than what a peer has seen of it, and what to do.
 * @example forkedText({ peer: bob, upTo: 3, newest: 1 }) // 'this data dir is older than what bob … has seen …'
 */
export function forkedText(event: {
  readonly peer: PeerInfo
  readonly upTo: number
  readonly newest: number
}): string {
  const { peer, upTo, newest } = event
  const ours =
    newest < upTo
      ? `this data dir only reaches #${newest}`
      : 'this data dir holds other messages under that number'
  // A claim of the peer's: honest after a restore from an older copy, or a lie. Either way nothing of
  // ours goes to it in this run, and the words let the user tell which.
  return `${peer.name} [${shortId(peer.id)}] says it has your messages up to #${upTo}, but ${ours}: if this data dir was restored from an older copy, or a copy of it ran as another node at the same time (two nodes with one key number their messages alike), ${peer.name} holds other messages under the numbers you would use now, so none of yours goes to it in this run (they stay in the outbox); run with the newest copy of the data dir, or, to start a new numbering, move journal.log out of it (its history and outbox go with it), and run one node per data dir. If the data dir was neither restored nor copied and run twice, ${peer.name} is not telling the truth`
}

/**
 * Two live nodes with `peer`'s key, told once: where each one's link came from (the one that holds it
 * first), as connect lines show it; not over the DHT, where both are the key itself.
 */
export function sameKeyText(
  peer: PeerInfo,
  addresses: readonly { readonly address: string; readonly listen?: string }[],
): string {
  const where = [
    ...new Set(
      addresses
        .filter((a) => keyOfAddress(a.address) === undefined)
        .map((a) => targetLabel(listenAddressOf(a) ?? a.address)),
    ),
  ]
  const from = where.length === 2 ? ` (from ${where[0]} and ${where[1]})` : ''
  return `two nodes are running with ${peer.name}'s key [${shortId(peer.id)}]${from}: a copied data dir? Each must have its own (parley id shows a node's key); until one stops, only one of them is let in (the same one at every peer)`
}

/** One line on a journal compaction, at start-up or while the node runs: records and bytes before and after. */
export function compactionNote(c: {
  readonly records: number
  readonly keptRecords: number
  readonly bytes: number
  readonly keptBytes: number
}): string {
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`
  return `journal compacted: ${countText(c.records)} → ${countText(c.keptRecords)} records, ${mb(c.bytes)} → ${mb(c.keptBytes)}`
}

/** A dial target as people read it: `HOST:PORT`, or `key [abcd-efgh]` for a node dialed by its key. */
/**
 * A failed dial, naming its target once: a TCP transport's message names the address already (`cannot
 * connect to host:4001: there is no host named …`), a DHT dial's says "it" for the key.
 */
function dialFailure(target: string, message: string): string {
  const label = targetLabel(target)
  const firstLine = message.split('\n', 1)[0] ?? ''
  return firstLine.includes(label) ? message : `cannot reach ${label}: ${message}`
}

export function targetLabel(target: string): string {
  const key = keyOfAddress(target)
  return key === undefined ? target : `key [${fingerprint(key).short}]`
}

/** A relayed member whose newest message is older than this is not said to be in the room: it wrote there. */
export { RELAYED_RECENT_MS }

/**
 * A member known only through relays, as its first messages show it: in the room when they are recent,
 * else that it wrote there, from when (old messages relayed to a joiner say nothing of whether it is
 * still there; `lastSent` is the newest of the first read, so a backlog's later messages may come after
 * it). Its presence then says it is there now (`hereAt`), once.
 */
function relayedMember(event: Extract<NodeEvent, { type: 'member' }>, now = Date.now()): string {
  const who = `${event.peer.name} [${shortId(event.peer.id)}]`
  if (event.hereAt !== undefined) return `${who} is in the room now (through another member)`
  const sent = event.lastSent
  if (sent === undefined || now - sent < RELAYED_RECENT_MS)
    return `${who} is in the room (through another member)`
  const day = new Date(sent).toDateString() === new Date(now).toDateString() ? '' : `${isoDay(sent)} `
  return `${who} wrote in the room, messages from ${day}${clockTime(sent).slice(0, 5)} on (through another member; whether it is still there is not known)`
}

/** The local date of `ts` as YYYY-MM-DD. */
function isoDay(ts: number): string {
  const d = new Date(ts)
  return [d.getFullYear(), d.getMonth() + 1, d.getDate()].map((n) => String(n).padStart(2, '0')).join('-')
}

/** A rename is always a warning: a name is chosen by its owner, and only the fingerprint stays the same. */
function describeRename(
  peer: PeerInfo,
  from: string,
  sameNameAs: readonly string[] | undefined,
  selfId: string | undefined,
): StatusLine {
  const clash = sameNameAs ? `; ${clashText(peer.name, sameNameAs, selfId)}` : ''
  return {
    level: 'warn',
    text: `WARNING: ${from} [${shortId(peer.id)}] now calls itself ${peer.name}${clash}: it is shown as ${peer.name}~${shortId(peer.id)} from now on; check the fingerprint, not the name`,
  }
}

/** Who else goes by `name`: this node (when `selfId` is among them), and other keys by fingerprint. */
function clashText(name: string, sameNameAs: readonly string[], selfId: string | undefined): string {
  // The names match as a reader sees them (`BOB`, `bоb`), not always letter for letter: only this name is
  // known here, so the line says how it reads, never that the other key wrote it so.
  const others = sameNameAs.filter((id) => id !== selfId)
  const parts: string[] = []
  if (others.length < sameNameAs.length) parts.push('your own')
  if (others.length > 0) parts.push(`a name a different key used before [${others.map(shortId).join(', ')}]`)
  return `its name "${name}" reads as ${parts.join(' and as ')}`
}

function describePeerState(target: string, state: PeerState): StatusLine | undefined {
  switch (state.status) {
    case 'connecting':
      if (state.refused) return describeRefusal(`the peer at ${target}`, state.refused)
      return { level: 'info', text: `dialing ${target} (keeps retrying until it answers)` }
    case 'reconnecting':
      if (state.refused) return describeRefusal(`${state.peer.name} at ${target}`, state.refused)
      return { level: 'info', text: `reconnecting to ${state.peer.name} at ${target}` }
    case 'failed':
      // An untrusted key was already explained in full when the dial failed; don't repeat the block.
      if (state.error.code === 'NOT_SECURE')
        return {
          level: 'warn',
          text: `gave up on ${target}: ${state.error.message}; to talk to a --plain node, run parley with --plain too`,
        }
      if (state.error.code === 'UNTRUSTED')
        return { level: 'warn', text: `gave up on ${target}: its key is not trusted (see above)` }
      if (state.error.code === 'REFUSED')
        return { level: 'warn', text: `gave up on ${target}: it does not trust this node's key (see above)` }
      return { level: 'warn', text: `gave up on ${target}: ${state.error.message}` }
    case 'idle':
    case 'handshaking':
    case 'connected':
    case 'closing':
    case 'closed':
      return undefined
    default: {
      const _exhaustive: never = state
      return _exhaustive
    }
  }
}

/**
 * A refusal that redialing soon cannot change, told on the first of a row only: what happened, that
 * nothing is lost, when parley tries again, and what would end it. The redials after it are silent.
 */
function describeRefusal(who: string, refused: Refused): StatusLine | undefined {
  if (refused.times > 1) return undefined
  // Another node with the same key: the same-key and key-in-use lines say it, once.
  if (refused.code === SAME_KEY) return undefined
  const wait = `parley tries again in ${seconds(refused.retryMs)}, then less and less often (up to every ${seconds(DEFAULT_REFUSAL_BACKOFF.maxMs)})`
  if (refused.code === 'OVER_QUOTA') {
    return refused.by === 'peer'
      ? {
          level: 'warn',
          text: `${who} refuses your messages: they fill the share of its disk it keeps for you [OVER_QUOTA]; they wait in your outbox, none is lost; ${wait}; to be heard sooner, ask its owner to raise its --disk-quota`,
        }
      : {
          level: 'warn',
          text: `${who} sends more than the share of your disk it may fill [OVER_QUOTA]: its messages are refused; ${wait}; raise --disk-quota to keep more of them`,
        }
  }
  return {
    level: 'warn',
    text: `${who} ${refused.by === 'peer' ? 'refuses this node' : 'is refused'}: ${refused.message} [${refused.code}]; ${wait}`,
  }
}

/** A wait as people read it: `10 s`, `5 min`. */
function seconds(ms: number): string {
  const s = Math.round(ms / 1000)
  return s >= 120 && s % 60 === 0 ? `${s / 60} min` : `${s} s`
}

/** Blank space, which no address holds (see `listenAddressOf`). */
const BLANK_IN_ADDRESS = /[\p{White_Space}\u2800\u3164\uffa0]/u

/**
 * Where a peer is: the address it listens on (announced in its hello), never the ephemeral port it dialed
 * from. An announced wildcard host (0.0.0.0, ::) is shown with the host the link came from.
 */
export function listenAddressOf(peer: {
  readonly address?: string
  readonly listen?: string
  readonly direction?: 'inbound' | 'outbound'
}): string | undefined {
  // An address holds no blank space: a peer's hello that says otherwise announces text, not where it
  // listens (padding that would wrap the rest of a status line to a row of its own), and is not shown.
  if (peer.listen && !BLANK_IN_ADDRESS.test(peer.listen)) {
    const wildcard = /^(?:0\.0\.0\.0|\[::\]):(\d+)$/.exec(peer.listen)
    if (!wildcard) return peer.listen
    const host = peer.address ? /^(.*):\d+$/.exec(peer.address)?.[1] : undefined
    return host ? `${host}:${wildcard[1]}` : peer.listen
  }
  // A link we dialed is at the address we dialed; an inbound one says nothing about where the peer listens.
  return peer.direction === 'outbound' ? peer.address : undefined
}

/**
 * A link that replaced one not yet seen closed comes with no `disconnected` line before it: said, so that
 * its `connected` line reads as a reconnect, not as a second peer of that name.
 */
function replacedText(replaced: 'restarted' | 'relinked' | undefined): string {
  switch (replaced) {
    case undefined:
      return ''
    case 'restarted':
      return ' again: it restarted, and its new link replaced the old one before that was seen to close'
    case 'relinked':
      return ' again: a new link replaced the old one before that was seen to close'
    default: {
      const _exhaustive: never = replaced
      return _exhaustive
    }
  }
}

function peerAt(event: { address: string; listen?: string; direction: 'inbound' | 'outbound' }): string {
  const where = listenAddressOf(event)
  return where ? ` at ${where}` : ''
}

/** Splits text into message bodies that fit the protocol's limit, never inside a surrogate pair. */
export function splitBody(text: string, limit = MAX_BODY_LENGTH): string[] {
  if (text.length <= limit) return [text]
  const parts: string[] = []
  let start = 0
  while (start < text.length) {
    const end = bodyEnd(text, start, limit)
    parts.push(text.slice(start, end))
    start = end
  }
  return parts
}

/** Where the body of `text` that starts at `start` ends: `limit` on, one less where a surrogate pair would be cut. */
export function bodyEnd(text: string, start: number, limit = MAX_BODY_LENGTH): number {
  const end = Math.min(start + limit, text.length)
  const code = text.charCodeAt(end - 1)
  return end < text.length && code >= 0xd800 && code <= 0xdbff ? end - 1 : end
}

/** `node.send` (or `sendLines`) refused a text too large for one frame of this node's (`--max-frame`). */
export function isFrameTooLarge(error: unknown): boolean {
  return error instanceof ProtocolError && error.code === 'FRAME_TOO_LARGE'
}

/**
 * Sends `text` with `send`: as one message, or as several in order when it is too long for one, by the
 * protocol's body limit (`splitBody`) or for a frame of this node's (a small `--max-frame`: such a part goes
 * in halves). Never cut inside a surrogate pair. Every part but the last is sent with `more` (its line goes
 * on in the next part), and the last too when `goesOn` (the text is itself the front of a longer line).
 * `each` is told every part sent, with what `send` returned.
 * @throws what `send` throws, but for a part too large for its frame
 * @example sendInParts((body, more) => node.send(body, { more }), line)
 */
export function sendInParts<T>(
  send: (body: string, more: boolean) => T,
  text: string,
  each?: (part: string, sent: T) => void,
  goesOn = false,
): void {
  const sendPart = (part: string, more: boolean) => {
    let sent: T
    try {
      sent = send(part, more)
    } catch (error) {
      if (!isFrameTooLarge(error) || part.length < 2) throw error
      const [first, second] = halves(part)
      sendPart(first, true)
      sendPart(second, more)
      return
    }
    each?.(part, sent)
  }
  // Nearly every text fits in one message: no array of parts for those.
  if (text.length <= MAX_BODY_LENGTH) {
    sendPart(text, goesOn)
    return
  }
  const parts = splitBody(text)
  const last = parts.length - 1
  for (let i = 0; i <= last; i++) sendPart(parts[i] as string, goesOn || i < last)
}

/** `text` in two, never between the two halves of a surrogate pair. */
function halves(text: string): [string, string] {
  let middle = Math.floor(text.length / 2)
  const code = text.charCodeAt(middle - 1)
  if (code >= 0xd800 && code <= 0xdbff) middle++
  return [text.slice(0, middle), text.slice(middle)]
}

/** A peer's short fingerprint (secure ids) or the start of its id. */
export function shortId(id: string): string {
  if (isKeyHex(id)) return fingerprint(id).short
  return id.startsWith('plain') ? 'unencrypted' : id.slice(0, 9)
}

/** What `/connect` needs to know about the node it runs in. */
export interface ConnectOptions {
  /** The node is on the DHT (`--dht` or an option that implies it): it can dial by key. */
  readonly dht: boolean
  /** `--plain`: TCP only, with no keys at all. */
  readonly plain?: boolean
}

/** `/disconnect`: stops dialing `target`, or says which addresses this node dials. */
export function disconnectFrom(node: ChatNode, target: Address): StatusLine {
  // `/disconnect localhost:4002` stops the dial to 127.0.0.1:4002 (and the other way round).
  const dialed = dialedAs(node, target)?.target ?? target
  const label = targetLabel(dialed)
  if (node.disconnect(dialed))
    return {
      level: 'info',
      text: `stopped dialing ${label}; messages no longer wait for whoever answers there`,
    }
  const dialing = node.peerStates().map((p) => targetLabel(p.target))
  return {
    level: 'warn',
    text: `not dialing ${label}${dialing.length > 0 ? `; dialing ${dialing.join(', ')}` : '; this node dials no address'}`,
  }
}

/** `localhost` as a host, or one of the two loopback addresses it may stand for, with the port. */
const LOOPBACK_TARGET = /^(localhost|127\.0\.0\.1|\[::1\]):(\d+)$/i

/**
 * Whether two addresses name the same place: the same text, or `localhost:P` beside `127.0.0.1:P` or
 * `[::1]:P` (what a user types against what a link or a `--peer` holds). The two loopback addresses stay
 * apart: a port may be held on one and not the other.
 */
export function sameTarget(a: Address, b: Address | undefined): boolean {
  if (b === undefined) return false
  if (a === b) return true
  const left = LOOPBACK_TARGET.exec(a)
  const right = LOOPBACK_TARGET.exec(b)
  if (!left || !right || left[2] !== right[2]) return false
  const leftHost = left[1]!.toLowerCase()
  const rightHost = right[1]!.toLowerCase()
  return leftHost === rightHost || leftHost === 'localhost' || rightHost === 'localhost'
}

type Dial = ReturnType<ChatNode['peerStates']>[number]

/**
 * The dial this node keeps that `target` names: the same text, else the one dial at the same place
 * (`sameTarget`). With `linked`, a dial at the same place counts only once connected: `localhost:P` may
 * reach a peer a dial to `[::1]:P` still waits for, as `localhost` stands for either address.
 */
function dialedAs(node: ChatNode, target: Address, linked = false): Dial | undefined {
  const dials = node.peerStates()
  const same = dials.find((p) => p.target === target)
  if (same) return same
  const alike = dials.filter(
    (p) => sameTarget(target, p.target) && (!linked || p.state.status === 'connected'),
  )
  return alike.length === 1 ? alike[0] : undefined
}

/**
 * `/connect`: dials `target` unless it is already there. Returns a line to show when nothing new happens
 * (already connected, already dialing, a key on a node without the DHT); a new dial is announced by the
 * node's own "dialing" event.
 */
export function connectTo(node: ChatNode, target: Address, options: ConnectOptions): StatusLine | undefined {
  const problem = dialProblem(target)
  if (problem) return { level: 'warn', text: `cannot dial ${target}: ${problem}` }
  const key = keyOfAddress(target)
  if (key !== undefined && !options.dht) {
    // Dialing it would fail the same way forever: say what to do once, and dial nothing.
    return {
      level: 'warn',
      text: options.plain
        ? `cannot dial key [${fingerprint(key).short}]: plain mode is TCP only; use /connect HOST:PORT`
        : `cannot dial key [${fingerprint(key).short}]: this node is not on the DHT; restart parley with --dht (and the peer's --bootstrap, if it uses one), or use /connect HOST:PORT`,
    }
  }
  const member = node
    .members()
    .find(
      (m) =>
        m.direct &&
        m.connected &&
        (sameTarget(target, listenAddressOf(m)) || sameTarget(target, m.address) || m.peer.id === key),
    )
  if (member)
    return {
      level: 'info',
      text: `already connected to ${member.peer.name} [${shortId(member.peer.id)}] at ${targetLabel(target)}`,
    }
  const dialing = dialedAs(node, target, true)
  const label = targetLabel(dialing?.target ?? target)
  if (dialing) {
    const state = dialing.state
    if (state.status === 'connected')
      return {
        level: 'info',
        text: `already connected to ${state.peer.name} [${shortId(state.peer.id)}] at ${label}`,
      }
    if (state.status === 'failed')
      return { level: 'warn', text: `gave up on ${label} earlier: ${state.error.message}` }
    if (state.status !== 'closed')
      return {
        level: 'info',
        text: `already dialing ${label} (${state.status}); it keeps retrying until it answers`,
      }
  }
  node.connect(target)
  return undefined
}
