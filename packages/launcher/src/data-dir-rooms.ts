/**
 * Which rooms a data dir's messages belong to. A node catches everyone it links with up on its recent
 * messages, so a data dir that held a one-to-one chat, or another room's, must not join a room by code
 * and hand that conversation to strangers unasked.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { replaceFile } from '@parley/store'
import { parseRoomCode } from '@parley/transport-dht/addresses'

const load = createRequire(import.meta.url)

/** Beside the journal: one line per room, a keyed hash of its code (the code itself is never written). */
export const ROOMS_FILE = 'rooms'

/**
 * What a data dir was used for: `unrecorded` (new, or written by a release that kept no record), or the
 * rooms its messages were in (none: used without a room, one-to-one or over TCP).
 */
export type RoomRecord = { status: 'unrecorded' } | { status: 'recorded'; rooms: readonly string[] }

export type RoomDecision =
  /** Go on; `record` is what the data dir holds from now on (undefined: leave it as it is). */
  | { type: 'go'; record?: readonly string[] }
  /** Refuse the start: the data dir's messages would reach a room they were not sent in. */
  | { type: 'refuse'; was: 'unrecorded' | 'no-room' | 'other-room' }

/**
 * Decides whether a start that joins `joining` (room hashes) may use a data dir holding `record`. Starts
 * without a room, and data dirs holding no message, always go (a start without a room records that the
 * messages are no longer only its rooms'); a room the messages were not in is refused unless the user asked
 * to share them.
 */
export function decideRooms(input: {
  record: RoomRecord
  joining: readonly string[]
  holdsMessages: boolean
  shareHistory: boolean
}): RoomDecision {
  const { record, joining, holdsMessages, shareHistory } = input
  const known = record.status === 'recorded' ? record.rooms : undefined
  // Without a room: it goes on, and from now on its messages may hold a chat no room was in, so a room
  // joined later is asked again (a room's own messages reaching this chat's peers is what it chose).
  if (joining.length === 0) return known?.length === 0 ? { type: 'go' } : { type: 'go', record: [] }
  // Nothing to hand over: the data dir now belongs to these rooms alone.
  if (!holdsMessages) return { type: 'go', record: [...joining] }
  if (known !== undefined && joining.every((room) => known.includes(room))) return { type: 'go' }
  if (shareHistory) return { type: 'go', record: [...new Set([...(known ?? []), ...joining])] }
  if (known === undefined) return { type: 'refuse', was: 'unrecorded' }
  return { type: 'refuse', was: known.length === 0 ? 'no-room' : 'other-room' }
}

/**
 * The keyed hash a room is recorded under, the same for every way of writing its code. node:crypto is
 * loaded only here: a start without a room does without it.
 */
export function roomHash(code: string): string {
  const { createHash } = load('node:crypto') as typeof import('node:crypto')
  return createHash('sha256').update('parley data dir room v1\0').update(parseRoomCode(code)).digest('hex')
}

export function readRoomRecord(path: string): RoomRecord {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'unrecorded' }
    throw error
  }
  const rooms = text.split('\n').filter((line) => /^[0-9a-f]{64}$/.test(line))
  return { status: 'recorded', rooms }
}

export function writeRoomRecord(path: string, rooms: readonly string[]): void {
  replaceFile(path, rooms.map((room) => `${room}\n`).join(''))
}

/** The one line a refused start ends with: what the data dir holds, and the two ways on. */
export function refusalText(dataDir: string, count: number, was: RoomDecision & { type: 'refuse' }): string {
  const what = {
    unrecorded: 'from before this release recorded which room they were in',
    'no-room': 'from a chat without a room (one-to-one, or over TCP)',
    'other-room': 'from another room',
  }[was.was]
  return `${dataDir} holds ${count} message(s) ${what}; joining this room would catch everyone in it up on them: give the room its own --data-dir DIR, or pass --share-history to bring them along`
}
