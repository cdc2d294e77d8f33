import { createRoomCode } from '@parley/transport-dht'
import { describe, expect, it } from 'vitest'
import { decideRooms, roomHash } from './data-dir-rooms.js'

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

  it('records a start without a room once, and lets it go on whatever the data dir holds', () => {
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
        record: { status: 'recorded', rooms: [A] },
        joining: [],
        holdsMessages: true,
        shareHistory: false,
      }),
    ).toEqual({ type: 'go' })
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
