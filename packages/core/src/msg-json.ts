/**
 * One serialization per message of ours: its journal record and its wire frame hold the same JSON text of
 * the message, so the text is made once, when the record is encoded, and the frame takes it from here.
 */
import type { Msg } from './schema.js'

/**
 * Texts made for the journal and not yet taken by a frame, the oldest dropped past `MADE_CAP`: a frame
 * usually takes its text within one flush of the journal, and texts of messages waiting for a peer that is
 * away must not pile up beside the outbox.
 */
const made = new Map<Msg, string>()
export const MADE_CAP = 1024

/**
 * The JSON text of an append's records, as `JSON.stringify(records)` writes it, for a store that
 * takes its encoder (`AppendLogOptions.encode` of `@parley/store`). The text of each `sent` record's
 * message is kept for its frame (`takeMsgJson`).
 */
export function journalRecordsJson(records: readonly unknown[]): string {
  // An append without one of our messages (a receiver's, mostly) is one call, one string.
  if (!records.some(isSent)) return JSON.stringify(records)
  // Joined, not added up: `+=` makes a tree of strings that the store's UTF-8 length and copy would first
  // copy flat (a quarter of a durable flood's allocations went to that and to the tree).
  const parts = new Array<string>(records.length)
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    // As in an array, what JSON cannot hold (undefined, a function) is `null`.
    parts[i] = isSent(record) ? sentJson(record) : ((JSON.stringify(record) as string | undefined) ?? 'null')
  }
  const last = records.length - 1
  parts[0] = `[${parts[0]}`
  parts[last] = `${parts[last]}]`
  return parts.join(',')
}

/** A record as the node makes one for each of our messages: `{ t: 'sent', msg }`, nothing else. */
function isSent(record: unknown): record is { t: 'sent'; msg: Msg } {
  const sent = record as { t?: unknown; msg?: unknown } | null
  return sent?.t === 'sent' && typeof sent.msg === 'object' && sent.msg !== null && keyCount(sent) === 2
}

function sentJson(record: { t: 'sent'; msg: Msg }): string {
  const msg = JSON.stringify(record.msg)
  made.set(record.msg, msg)
  if (made.size > MADE_CAP) made.delete(made.keys().next().value as Msg)
  return `{"t":"sent","msg":${msg}}`
}

function keyCount(record: object): number {
  let keys = 0
  for (const _ in record) keys++
  return keys
}

/** The JSON text the journal made of `msg`, once: the caller puts it in a frame. */
export function takeMsgJson(msg: Msg): string | undefined {
  const json = made.get(msg)
  if (json !== undefined) made.delete(msg)
  return json
}
