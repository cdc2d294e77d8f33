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
  let json = '['
  for (let i = 0; i < records.length; i++) {
    if (i > 0) json += ','
    json += recordJson(records[i])
  }
  return `${json}]`
}

function recordJson(record: unknown): string {
  const sent = record as { t?: unknown; msg?: Msg } | null
  if (sent?.t === 'sent' && typeof sent.msg === 'object' && sent.msg !== null && keyCount(sent) === 2) {
    const msg = JSON.stringify(sent.msg)
    made.set(sent.msg, msg)
    if (made.size > MADE_CAP) made.delete(made.keys().next().value as Msg)
    return `{"t":"sent","msg":${msg}}`
  }
  return JSON.stringify(record)
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
