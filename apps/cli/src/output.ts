import type { HistoryEntry, NodeEvent, SentMessage } from '@parley/core'
import {
  clockTime,
  describeEvent,
  displayWidth,
  parseAction,
  type ShownMessage,
  type StatusLine,
  terminalLine,
  terminalSafe,
} from '@parley/launcher'

/** One JSON object per event, as documented in the README's CLI reference. */
export function jsonEvent(event: NodeEvent): Record<string, unknown> {
  switch (event.type) {
    case 'message':
      return {
        type: 'message',
        from: event.from.name,
        fromId: event.from.id,
        body: event.body,
        id: event.id,
        seq: event.seq,
        ts: event.ts,
        ...(event.replayed ? { replayed: true } : {}),
        ...(event.more ? { more: true } : {}),
      }
    // Not printed: --json runs its node without runs, so every message is a `message` event of its own.
    case 'lines':
      return {
        type: 'lines',
        from: event.from.name,
        fromId: event.from.id,
        bodies: event.bodies,
        firstSeq: event.firstSeq,
        ts: event.ts,
      }
    case 'delivered':
      return { type: 'delivered', id: event.id, seq: event.seq, to: event.to.name, toId: event.to.id }
    case 'settled':
      return { type: 'settled', upTo: event.upTo, pending: event.pending }
    case 'peer-state':
      return {
        type: 'state',
        target: event.target,
        state: event.state.status,
        ...('peer' in event.state && event.state.peer ? { peer: event.state.peer.name } : {}),
        ...(event.state.status === 'failed'
          ? { code: event.state.error.code, reason: event.state.error.message }
          : {}),
      }
    case 'connected':
      return {
        type: 'connected',
        peer: event.peer.name,
        peerId: event.peer.id,
        address: event.address,
        ...(event.listen ? { listen: event.listen } : {}),
        direction: event.direction,
        ...(event.sameNameAs ? { sameNameAs: event.sameNameAs } : {}),
        ...(event.replaced ? { replaced: event.replaced } : {}),
      }
    case 'disconnected':
      return {
        type: 'disconnected',
        peer: event.peer.name,
        peerId: event.peer.id,
        reason: event.reason,
        ...(event.refusal !== undefined ? { refusal: event.refusal } : {}),
        // It said it leaves (`/quit`, input ended), as text mode tells apart from a link that broke.
        ...(event.left ? { left: true } : {}),
      }
    case 'member':
      return {
        type: 'member',
        peer: event.peer.name,
        peerId: event.peer.id,
        via: event.via,
        ...(event.sameNameAs ? { sameNameAs: event.sameNameAs } : {}),
        ...(event.renamedFrom !== undefined ? { renamedFrom: event.renamedFrom } : {}),
        ...(event.lastSent !== undefined ? { lastSent: event.lastSent } : {}),
        ...(event.hereAt !== undefined ? { hereAt: event.hereAt } : {}),
      }
    case 'member-left':
      return {
        type: 'member-left',
        peer: event.peer.name,
        peerId: event.peer.id,
        ...(event.at !== undefined ? { at: event.at } : {}),
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
      }
    case 'member-lost':
      return {
        type: 'member-lost',
        peer: event.peer.name,
        peerId: event.peer.id,
        by: event.by.name,
        byId: event.by.id,
        at: event.at,
      }
    case 'link-error':
      return {
        type: 'error',
        address: event.address,
        code: event.code,
        message: event.message,
        ...(event.peer ? { peer: event.peer.name, peerId: event.peer.id } : {}),
        ...(event.listen ? { listen: event.listen } : {}),
      }
    case 'listening':
      return { type: 'listening', address: event.address }
    case 'throttled':
      return { type: 'throttled', peer: event.peer.name, peerId: event.peer.id, retryMs: event.retryMs }
    case 'backpressure':
      return { type: 'backpressure', peer: event.peer.name, peerId: event.peer.id, blocked: event.blocked }
    case 'dial-error':
      return { type: 'dial-error', target: event.target, code: event.code, message: event.message }
    case 'journal-error':
      return { type: 'journal-error', message: event.message }
    case 'forked': {
      const { upTo, newest, pending } = event
      return { type: 'forked', peer: event.peer.name, peerId: event.peer.id, upTo, newest, pending }
    }
    case 'same-key':
      return {
        type: 'same-key',
        peer: event.peer.name,
        peerId: event.peer.id,
        addresses: event.addresses.map((a) => ({
          address: a.address,
          ...(a.listen ? { listen: a.listen } : {}),
        })),
      }
    case 'key-in-use':
      return { type: 'key-in-use', peer: event.peer.name, peerId: event.peer.id }
    case 'journal-compacted': {
      const { records, keptRecords, bytes, keptBytes } = event
      return { type: 'journal-compacted', records, keptRecords, bytes, keptBytes }
    }
    case 'journal-compaction-failed':
      return { type: 'journal-compaction-failed', message: event.message }
    case 'closed':
      return { type: 'closed' }
    default: {
      const _exhaustive: never = event
      return _exhaustive
    }
  }
}

/** A received message; an action (`/me`) carries its text as `body` and `"action": true`. */
export function jsonMessage(m: ShownMessage): Record<string, unknown> {
  return {
    type: 'message',
    from: m.from.name,
    fromId: m.from.id,
    body: m.action ?? m.body,
    ...(m.action !== undefined ? { action: true } : {}),
    id: m.id,
    seq: m.seq,
    ts: m.ts,
    ...(m.catchUp ? { catchUp: true } : {}),
    ...(m.replayed ? { replayed: true } : {}),
    ...(m.more ? { more: true } : {}),
  }
}

/**
 * `part`: the entry is a later part of a line sent in parts, with the action text when the line is an action
 * (as `ShownMessage.action` has it); its own body is no action then.
 */
export function jsonHistory(
  entry: HistoryEntry,
  part?: { readonly action?: string },
): Record<string, unknown> {
  const action = part ? part.action : parseAction(entry.body)
  return {
    type: 'history',
    direction: entry.direction,
    from: entry.from.name,
    fromId: entry.from.id,
    body: action ?? entry.body,
    ...(action !== undefined ? { action: true } : {}),
    id: entry.id,
    seq: entry.seq,
    ts: entry.ts,
    ...(entry.more ? { more: true } : {}),
  }
}

/** Nobody else was in the room (`--room CODE`) when this node joined; it waits for them. Said once. */
export function jsonRoomEmpty(room: string): Record<string, unknown> {
  return { type: 'room-empty', room }
}

/** A line of yours was taken: written as `message` and `history` events write it (`/me`: `action`). */
export function jsonSent(sent: SentMessage, body: string): Record<string, unknown> {
  const action = parseAction(body)
  return {
    type: 'sent',
    id: sent.id,
    seq: sent.seq,
    ts: sent.ts,
    body: action ?? body,
    ...(action !== undefined ? { action: true } : {}),
  }
}

/**
 * `[HH:MM:SS] <name> text` (timestamp on a terminal only), or `* name waves` for an action; continuation
 * lines are indented under the text.
 */
export function formatMessage(
  name: string,
  body: string,
  ts: number,
  withTime: boolean,
  action?: string,
): string {
  const time = withTime ? `[${clockTime(ts)}] ` : ''
  // The name stays on its line: a newline in it would start a forged line at column 0.
  const prefix = action === undefined ? `${time}<${terminalLine(name)}> ` : `${time}* ${terminalLine(name)} `
  const text = terminalSafe(action ?? body)
  // Most messages are one line: no continuation lines to indent.
  if (!text.includes('\n')) return prefix + text
  const lines = text.split('\n')
  // In columns: a wide name (東京猫, an emoji) takes more of them than UTF-16 units.
  const indent = ' '.repeat(displayWidth(prefix))
  return lines.map((line, i) => (i === 0 ? prefix : indent) + line).join('\n')
}

/**
 * A part that goes on with its sender's open line (see `formatMessage`): its text only (an action's part,
 * its action text), a line break in it indented under the text as `formatMessage` indents it, so that no
 * peer's text starts a line.
 */
export function formatContinued(name: string, body: string): string {
  const text = terminalSafe(body)
  if (!text.includes('\n')) return text
  return text.replaceAll('\n', `\n${' '.repeat(displayWidth(`<${terminalLine(name)}> `))}`)
}

/**
 * `formatMessage` for each of a sender's lines, made at once: the lines joined by newlines. Undefined when
 * a line is an action (`* name waves`), which `formatMessage` formats alone. No body holds a newline.
 */
export function formatLines(
  name: string,
  bodies: readonly string[],
  ts: number,
  withTime: boolean,
): string | undefined {
  const text = bodies.join('\n')
  // An action starts with U+0001: made line by line, as before.
  if (text.charCodeAt(0) === 1 || text.includes('\n\u0001')) return undefined
  const prefix = `${withTime ? `[${clockTime(ts)}] ` : ''}<${terminalLine(name)}> `
  return prefix + terminalSafe(text).replaceAll('\n', `\n${prefix}`)
}

export function formatStatus(status: StatusLine): string {
  const first = `parley: ${terminalLine(status.text)}`
  if (!status.more) return first
  // Each further line of a refusal of our own on a line of its own, still safe, still marked as parley's.
  return [first, ...status.more.map((line) => `parley: ${terminalLine(line)}`)].join('\n')
}

export { describeEvent }
