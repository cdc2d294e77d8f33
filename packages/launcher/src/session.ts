import {
  formatAddress,
  MAX_BODY_LENGTH,
  type NodeEvent,
  type NodeOptions,
  ParleyNode,
  type PeerState,
  TransportError,
} from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import { ExitCode, FatalError } from './exit-codes.js'
import type { Flags } from './flags.js'

/**
 * Builds a node from parsed flags and starts it: it listens first, then dials every --peer.
 * `onEvent` is subscribed before the start, so it sees the `listening` event too.
 * @throws FatalError with exit code LISTEN when the listen address cannot be bound
 */
export async function startNode(
  flags: Flags,
  onEvent: (event: NodeEvent) => void,
  overrides: Partial<NodeOptions> = {},
): Promise<ParleyNode> {
  const node = new ParleyNode({
    transport: createTcpTransport(),
    name: flags.name,
    listen: flags.listen,
    peers: flags.peers,
    ...overrides,
  })
  node.on(onEvent)
  try {
    await node.start()
  } catch (error) {
    if (error instanceof TransportError) {
      throw new FatalError(
        ExitCode.LISTEN,
        `cannot listen on ${formatAddress(flags.listen)}: ${error.message}`,
        {
          cause: error,
        },
      )
    }
    throw error
  }
  return node
}

/** A status line for people, or undefined for events that are not status (messages, deliveries). */
export interface StatusLine {
  readonly level: 'info' | 'warn'
  readonly text: string
}

/** The words every frontend uses for connection events, so both tell the same story. */
export function describeEvent(event: NodeEvent): StatusLine | undefined {
  switch (event.type) {
    case 'listening':
      return { level: 'info', text: `listening on ${event.address}` }
    case 'peer-state':
      return describePeerState(event.target, event.state)
    case 'connected':
      return { level: 'info', text: `connected to ${event.peer.name} at ${event.address}` }
    case 'disconnected':
      return { level: 'warn', text: `disconnected from ${event.peer.name}: ${event.reason}` }
    case 'link-error':
      return { level: 'warn', text: `peer at ${event.address} was dropped: ${event.message} [${event.code}]` }
    case 'dial-error':
      return event.code === 'CONNECTION_REFUSED'
        ? { level: 'info', text: `${event.target} is not answering yet; will keep trying` }
        : { level: 'warn', text: `cannot reach ${event.target}: ${event.message}` }
    case 'journal-error':
      return { level: 'warn', text: `cannot write the data dir: ${event.message}` }
    case 'closed':
      return { level: 'info', text: 'closed' }
    case 'message':
    case 'delivered':
      return undefined
    default: {
      const _exhaustive: never = event
      return _exhaustive
    }
  }
}

function describePeerState(target: string, state: PeerState): StatusLine | undefined {
  switch (state.status) {
    case 'connecting':
      return { level: 'info', text: `dialing ${target} (keeps retrying until it answers)` }
    case 'reconnecting':
      return { level: 'info', text: `reconnecting to ${state.peer.name} at ${target}` }
    case 'failed':
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

/** Splits text into message bodies that fit the protocol's limit, never inside a surrogate pair. */
export function splitBody(text: string, limit = MAX_BODY_LENGTH): string[] {
  if (text.length <= limit) return [text]
  const parts: string[] = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + limit, text.length)
    const code = text.charCodeAt(end - 1)
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--
    parts.push(text.slice(start, end))
    start = end
  }
  return parts
}
