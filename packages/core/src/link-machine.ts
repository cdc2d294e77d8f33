/**
 * The handshake on one link, and what may flow on it afterwards. Both sides send `hello` at once; the node
 * with the lower id then decides whether the link becomes the session's link (`accept`) or is a duplicate
 * (`bye`), so both ends always agree on which link carries the chat. Pure, like the peer machine.
 */
import type { ProtocolError, ProtocolErrorCode } from './errors.js'
import type { PeerInfo, Step } from './peer-machine.js'
import type { SAME_KEY } from './same-key.js'
import { type Hello, MAX_REASON_LENGTH, type Message, PROTOCOL_VERSION } from './schema.js'
import { cutText } from './text-cut.js'

/** Why a link ended. `code` is a ProtocolErrorCode, or one of the orderly outcomes below. */
export interface LinkCloseReason {
  readonly code: ProtocolErrorCode | 'DUPLICATE' | 'BYE' | 'LOCAL' | 'TRANSPORT' | typeof SAME_KEY
  readonly message: string
  /** True when the remote end broke the protocol (worth reporting with its address). */
  readonly protocolError: boolean
  /** The code the remote end gave in its `bye`, if it gave one. */
  readonly remoteCode?: string
}

export type LinkState =
  /** `expectedId` is the key the transport authenticated; the hello must claim exactly that id. */
  | { readonly status: 'awaiting-hello'; readonly expectedId?: string }
  | { readonly status: 'awaiting-accept'; readonly peer: PeerInfo; readonly instance: string }
  | { readonly status: 'open'; readonly peer: PeerInfo; readonly instance: string }
  | { readonly status: 'closed'; readonly reason: LinkCloseReason }

export type LinkEvent =
  | { readonly type: 'received'; readonly message: Message }
  | { readonly type: 'protocol-error'; readonly error: ProtocolError }
  | { readonly type: 'handshake-timeout' }
  /** We end the link; `code` (`SAME_KEY`) goes in the `bye` and is the close's code. */
  | { readonly type: 'close'; readonly reason: string; readonly code?: typeof SAME_KEY }
  | { readonly type: 'transport-closed'; readonly error?: Error }

export type LinkEffect =
  | { readonly type: 'send'; readonly message: Message }
  | { readonly type: 'cancel-handshake-timer' }
  /** This link now carries the chat with `peer`; any older link to the same peer is replaced. */
  | { readonly type: 'open'; readonly peer: PeerInfo; readonly instance: string }
  /** A chat message, ack, ping or pong for the session. */
  | { readonly type: 'deliver'; readonly message: Message }
  | { readonly type: 'close'; readonly reason: LinkCloseReason }

/** What the link machine may ask about the rest of the node while deciding. */
export interface LinkContext {
  readonly self: { readonly id: string }
  /** The process instance of the peer's current open session, if there is one. */
  openSession(peerId: string): { readonly instance: string } | undefined
}

export const initialLinkState: LinkState = { status: 'awaiting-hello' }

/** The starting state of a link whose transport proved the remote key (if it did). */
export function newLinkState(remoteKey?: string): LinkState {
  return remoteKey ? { status: 'awaiting-hello', expectedId: remoteKey } : initialLinkState
}

/** The hello this node sends first on every link. */
export function makeHello(
  self: { id: string; name: string; instance: string },
  caps: string[],
  listen?: string,
): Hello {
  return {
    type: 'hello',
    v: PROTOCOL_VERSION,
    id: self.id,
    name: self.name,
    caps: [`instance:${self.instance}`, ...caps],
    ...(listen ? { listen } : {}),
  }
}

/** The process instance a hello announces (a restarted peer has a new one). */
export function helloInstance(hello: Hello): string {
  return helloCap(hello, 'instance') ?? ''
}

/** The value of a `key:value` capability in a hello, if present. */
export function helloCap(hello: Hello, key: string): string | undefined {
  const cap = hello.caps.find((c) => c.startsWith(`${key}:`))
  return cap === undefined ? undefined : cap.slice(key.length + 1)
}

/**
 * On an open link, a chat message (anything but hello, accept and bye) is delivered and changes nothing.
 * The runtime asks this first, so the most frequent step needs no step object.
 */
export function isPlainDelivery(state: LinkState, message: Message): boolean {
  return (
    state.status === 'open' && message.type !== 'hello' && message.type !== 'accept' && message.type !== 'bye'
  )
}

export function linkTransition(
  state: LinkState,
  event: LinkEvent,
  ctx: LinkContext,
): Step<LinkState, LinkEffect> {
  // The frequent case first, before any closure below is made.
  if (event.type === 'received' && isPlainDelivery(state, event.message))
    return { ok: true, state, effects: [{ type: 'deliver', message: event.message }] }
  const ok = (next: LinkState, ...effects: LinkEffect[]): Step<LinkState, LinkEffect> => ({
    ok: true,
    state: next,
    effects,
  })
  const reject = (why: string): Step<LinkState, LinkEffect> => ({
    ok: false,
    state,
    reason: `${event.type} is not valid while ${state.status}: ${why}`,
  })
  const close = (reason: LinkCloseReason, ...before: LinkEffect[]): Step<LinkState, LinkEffect> =>
    ok({ status: 'closed', reason }, ...before, { type: 'cancel-handshake-timer' }, { type: 'close', reason })
  // The peer is told why before the link closes, so a person on the other end sees a reason too.
  const broken = (code: ProtocolErrorCode, message: string) =>
    close(
      { code, message, protocolError: true },
      { type: 'send', message: { type: 'bye', reason: cutText(message, MAX_REASON_LENGTH), code } },
    )

  if (state.status === 'closed') return reject('the link is closed')

  switch (event.type) {
    case 'protocol-error':
      return broken(event.error.code, event.error.message)
    case 'transport-closed':
      return close({
        code: 'TRANSPORT',
        message: event.error ? event.error.message : 'connection closed',
        protocolError: false,
      })
    case 'close':
      return close(
        { code: event.code ?? 'LOCAL', message: event.reason, protocolError: false },
        {
          type: 'send',
          message: {
            type: 'bye',
            reason: cutText(event.reason, MAX_REASON_LENGTH),
            ...(event.code ? { code: event.code } : {}),
          },
        },
      )
    case 'handshake-timeout':
      if (state.status === 'open') return reject('the handshake is over')
      return broken('HANDSHAKE_TIMEOUT', 'peer did not complete the handshake in time')
    case 'received':
      return onMessage(state, event.message)
    default:
      return exhaustive(event)
  }

  function onMessage(
    current: Exclude<LinkState, { status: 'closed' }>,
    message: Message,
  ): Step<LinkState, LinkEffect> {
    if (message.type === 'bye') {
      const duplicate = message.reason === DUPLICATE_REASON
      return close({
        code: duplicate ? 'DUPLICATE' : 'BYE',
        message: message.reason,
        protocolError: false,
        ...(message.code ? { remoteCode: message.code } : {}),
      })
    }
    switch (current.status) {
      case 'awaiting-hello': {
        if (message.type !== 'hello') return broken('NO_HELLO', `peer sent "${message.type}" before "hello"`)
        const peer: PeerInfo = { id: message.id, name: message.name }
        const instance = helloInstance(message)
        if (current.expectedId !== undefined && peer.id !== current.expectedId) {
          return broken(
            'IDENTITY',
            'peer claimed a node id that is not the key it proved in the secure handshake',
          )
        }
        if (peer.id === ctx.self.id)
          return broken('SELF', 'this node dialed itself (the address it dials is its own)')
        if (ctx.self.id > peer.id) return ok({ status: 'awaiting-accept', peer, instance })
        const existing = ctx.openSession(peer.id)
        if (existing && existing.instance === instance) {
          return close(
            {
              code: 'DUPLICATE',
              message: 'already connected to this peer on another link',
              protocolError: false,
            },
            { type: 'send', message: { type: 'bye', reason: DUPLICATE_REASON } },
          )
        }
        return ok(
          { status: 'open', peer, instance },
          { type: 'cancel-handshake-timer' },
          { type: 'send', message: { type: 'accept' } },
          { type: 'open', peer, instance },
        )
      }
      case 'awaiting-accept':
        if (message.type !== 'accept')
          return broken('UNEXPECTED', `peer sent "${message.type}" before "accept"`)
        return ok(
          { status: 'open', peer: current.peer, instance: current.instance },
          { type: 'cancel-handshake-timer' },
          { type: 'open', peer: current.peer, instance: current.instance },
        )
      case 'open':
        if (message.type === 'hello' || message.type === 'accept') {
          return broken('UNEXPECTED', `peer sent "${message.type}" after the handshake`)
        }
        return ok(current, { type: 'deliver', message })
      default:
        return exhaustive(current)
    }
  }
}

/** The `bye` reason that tells the other side its link lost the duplicate resolution. */
export const DUPLICATE_REASON = 'duplicate link'

/**
 * The `bye` reason of a link closed by `/disconnect` (every release has sent it): the peer closed this one
 * link, it did not leave the room, and may still be reached through other members.
 */
export const UNLINK_REASON = 'disconnected by the user'

function exhaustive(value: never): never {
  throw new Error(`unhandled link case ${JSON.stringify(value)}`)
}
