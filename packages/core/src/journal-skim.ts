/**
 * Reading a long journal at start-up without parsing each message: a frame of `sent` records, or of
 * `received` records of one origin, as this version writes them, is matched by regular expressions that
 * accept only valid JSON and keep of each record what a replay reads (its seq, origin and name). The few
 * records the state rests on are parsed in full later (see `JournalStartup`); anything else is parsed as
 * JSON. `JSON.parse` of every message, and the garbage it left, was most of a long start-up.
 */
import type { JournalRecord } from './journal.js'
import { isLineCount } from './msg-lines.js'

/** A record as skimmed: only what `JournalReplayer` reads of it. Its message lacks its id, text and the rest. */
export type SkimmedRecord =
  | { readonly t: 'sent'; readonly msg: SkimmedMsg }
  | { readonly t: 'received'; readonly msg: SkimmedMsg; readonly name: string }

/**
 * What a replay reads of a message: its seq, time and origin, how many lines it carries (`msg.lines`), and how
 * long its text is (`units`: its body and id, in UTF-16 units, an escape counted as written), which the
 * replay holds its windows and history to as the room does.
 */
interface SkimmedMsg {
  readonly seq: number
  /** When it was written: a reset's `after` is worked out from the newest of the old numbering. */
  readonly ts: number
  readonly from: string
  readonly lines?: number
  readonly units?: number
}

/**
 * A record as a skim keeps it: a message's seq and origin (and a receipt's name), other records as they
 * are. A replay that only finds which records the state rests on reads no more, and need not hold the
 * message itself.
 */
export function skimRecord(record: JournalRecord): JournalRecord | SkimmedRecord {
  switch (record.t) {
    case 'sent':
      return { t: 'sent', msg: skimMsg(record.msg) }
    case 'received':
      return { t: 'received', msg: skimMsg(record.msg), name: record.name }
    default:
      return record
  }
}

// JSON pieces. A string allows no raw control character and only JSON's escapes, written so that each
// repetition starts with a backslash (linear, no backtracking, and runs of plain characters at once); a
// count has no sign, fraction or exponent; an id is lowercase hex, as a node id is.
const STRING = String.raw`"[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*"`
const COUNT = '(?:0|[1-9][0-9]{0,15})'
const TAIL_FIELD = `,"(?:name|prev|sig)":${STRING}|,"hops":${COUNT}|,"more":true`
// `lines` is captured outside the repeated group: a capture inside one is cleared by each repetition
// after it (a signed message has `prev` and `sig` after its `lines`). At most once, anywhere in the tail.
const MSG_TAIL = `(?:${TAIL_FIELD})*(?:,"lines":(${COUNT})(?:${TAIL_FIELD})*)?`
/** A message as the room writes it: these fields first, in this order, then only known optional ones. */
const MSG = `\\{"type":"msg","id":(${STRING}),"seq":(${COUNT}),"ts":(${COUNT}),"from":"([0-9a-f]{16,128})","body":(${STRING})${MSG_TAIL}\\}`
const SENT = new RegExp(`\\{"t":"sent","msg":${MSG}\\}`, 'y')
// A receipt's arrival time (`at`) is not read by a replay: only allowed, after the name.
const RECEIVED = new RegExp(`\\{"t":"received","msg":${MSG},"name":(${STRING})(?:,"at":${COUNT})?\\}`, 'y')

/**
 * The records of a frame's JSON text, skimmed, or undefined when the frame is not one this recognizes
 * (then it must be parsed as JSON). A frame mixing origins is not recognized: the store measures each
 * record of such a frame by its JSON, which a skimmed record no longer has.
 */
export function skimFrame(text: string): SkimmedRecord[] | undefined {
  if (text.charCodeAt(0) !== 0x5b /* [ */ || text.charCodeAt(text.length - 1) !== 0x5d /* ] */) return
  const kind = text.startsWith('[{"t":"sent",')
    ? SENT
    : text.startsWith('[{"t":"received",')
      ? RECEIVED
      : undefined
  if (!kind) return
  const records: SkimmedRecord[] = []
  let from: string | undefined
  let literal: string | undefined
  let name = ''
  let at = 1
  for (;;) {
    kind.lastIndex = at
    const match = kind.exec(text)
    if (!match) return
    const seq = Number(match[2])
    if (!Number.isSafeInteger(seq)) return
    // One string per origin and name, not one per record; a copy, not a slice of the frame's text, which
    // a replay would keep alive for as long as it keeps the origin (a flood of made-up origins held
    // gigabytes of frames so).
    if (from === undefined) from = detached(match[4] as string)
    else if (from !== match[4]) return
    const ts = Number(match[3])
    // As for seq: a time no message can carry (hand-edited) is left to the full parse, which refuses it.
    if (!Number.isSafeInteger(ts)) return
    const lines = match[6] === undefined ? undefined : Number(match[6])
    // A count no message can carry is not skimmed: parsed, the record is refused as damaged.
    if (lines !== undefined && !isLineCount(lines)) return
    // Only the length of the text is kept, not the text.
    const units = unitsOf(match[1] as string) + unitsOf(match[5] as string)
    const msg: SkimmedMsg = lines === undefined ? { seq, ts, from, units } : { seq, ts, from, lines, units }
    if (kind === SENT) records.push({ t: 'sent', msg })
    else {
      if (literal !== match[7]) {
        literal = match[7] as string
        name = detached(nameOf(literal))
      }
      records.push({ t: 'received', msg, name })
    }
    at = kind.lastIndex
    const next = text.charCodeAt(at)
    if (next === 0x2c /* , */) at++
    else return next === 0x5d && at === text.length - 1 ? records : undefined
  }
}

function skimMsg(msg: {
  readonly seq: number
  readonly ts: number
  readonly from: string
  readonly lines?: number
  readonly id: string
  readonly body: string
}): SkimmedMsg {
  const { seq, ts, from, lines } = msg
  const units = msg.id.length + msg.body.length
  return lines === undefined ? { seq, ts, from, units } : { seq, ts, from, lines, units }
}

/** The UTF-16 units of the string a JSON string literal holds. */
function unitsOf(literal: string): number {
  return literal.includes('\\') ? (JSON.parse(literal) as string).length : literal.length - 2
}

/**
 * A string that shares no memory with the text it was cut from: V8 cuts a long string as a view of its
 * source, which stays alive as long as the cut does.
 */
function detached(text: string): string {
  return ` ${text}`.slice(1)
}

/** The name a JSON string literal holds. */
function nameOf(literal: string): string {
  return literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1)
}
