import { createRoomCode } from '@parley/transport-dht'
import { describe, expect, it } from 'vitest'
import { decideRooms, type RoomRecord, roomHash } from './data-dir-rooms.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

describe('decideRooms', () => {
  it('refuses a room on a data dir holding a chat without a room', () => {
    const decision = decideRooms({
      record: { status: 'recorded', rooms: [] },
      joining: [A],
      holdsMessages: true,
      shareHistory: false,
    })
    expect(decision).toEqual({ type: 'refuse', was: 'no-room' })
  })

  it("refuses a room on a data dir holding another room's messages", () => {
    const decision = decideRooms({
      record: { status: 'recorded', rooms: [B] },
      joining: [A],
      holdsMessages: true,
      shareHistory: false,
    })
    expect(decision).toEqual({ type: 'refuse', was: 'other-room' })
  })

  it('refuses a room on a data dir from an earlier release that holds messages', () => {
    const decision = decideRooms({
      record: { status: 'unrecorded' },
      joining: [A],
      holdsMessages: true,
      shareHistory: false,
    })
    expect(decision).toEqual({ type: 'refuse', was: 'unrecorded' })
  })

  it('goes on in a room the messages were in, recording nothing new', () => {
    const decision = decideRooms({
      record: { status: 'recorded', rooms: [A, B] },
      joining: [A],
      holdsMessages: true,
      shareHistory: false,
    })
    expect(decision).toEqual({ type: 'go' })
  })

  it('gives a data dir holding no message to the rooms it joins', () => {
    const decision = decideRooms({
      record: { status: 'recorded', rooms: [B] },
      joining: [A],
      holdsMessages: false,
      shareHistory: false,
    })
    expect(decision).toEqual({ type: 'go', record: [A] })
  })

  it('shares the history when asked, adding the room to the record', () => {
    const decision = decideRooms({
      record: { status: 'recorded', rooms: [B] },
      joining: [A],
      holdsMessages: true,
      shareHistory: true,
    })
    expect(decision).toEqual({ type: 'go', record: [B, A] })
  })

  it("lets a start without a room go on, and records that its messages are no longer only a room's", () => {
    expect(
      decideRooms({
        record: { status: 'unrecorded' },
        joining: [],
        holdsMessages: true,
        shareHistory: false,
      }),
    ).toEqual({ type: 'go', record: [] })
    expect(
      decideRooms({
        record: { status: 'recorded', rooms: [] },
        joining: [],
        holdsMessages: true,
        shareHistory: false,
      }),
    ).toEqual({ type: 'go' })
    // A room's data dir used for a one-to-one chat: what that chat adds must not reach the room later.
    expect(
      decideRooms({
        record: { status: 'recorded', rooms: [A] },
        joining: [],
        holdsMessages: true,
        shareHistory: false,
      }),
    ).toEqual({ type: 'go', record: [] })
  })

  it('refuses the room again after its data dir was used without a room, unless asked to share', () => {
    let record: RoomRecord = { status: 'recorded', rooms: [A] }
    const withoutRoom = decideRooms({ record, joining: [], holdsMessages: true, shareHistory: false })
    record = { status: 'recorded', rooms: withoutRoom.type === 'go' ? (withoutRoom.record ?? [A]) : [A] }
    expect(decideRooms({ record, joining: [A], holdsMessages: true, shareHistory: false })).toEqual({
      type: 'refuse',
      was: 'no-room',
    })
    expect(decideRooms({ record, joining: [A], holdsMessages: true, shareHistory: true })).toEqual({
      type: 'go',
      record: [A],
    })
  })
})

describe('roomHash', () => {
  it('is the same for every way of writing one code, and never the code itself', () => {
    const code = createRoomCode()
    const hash = roomHash(code)
    expect(roomHash(`"${code.toUpperCase().replaceAll('-', ' ')}."`)).toBe(hash)
    expect(roomHash(createRoomCode())).not.toBe(hash)
    expect(hash).not.toContain(code.replaceAll('-', ''))
  })
})
