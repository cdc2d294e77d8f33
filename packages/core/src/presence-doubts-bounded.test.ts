/**
 * What presence keeps about notices of lost links that their members answered (the doubts and strikes
 * against whoever signed or passed them on): bounded, however many neighbours, signers and members a
 * hostile crowd brings.
 */
import { describe, expect, it } from 'vitest'
import type { Clock } from './clock.js'
import { PRESENCE_DEFAULTS, Presence } from './presence.js'
import type { RoomEffect } from './room-types.js'
import { MEMBER_DEFAULTS, MemberRoom, Roster } from './roster.js'
import type { Here, Lost } from './schema.js'
import { Sessions } from './sessions.js'

const SELF = { id: 'b'.repeat(64), name: 'bob' }
const hex = (prefix: string, n: number) => `${prefix}${n.toString(16).padStart(15, '0')}`

function presenceOf(clock: { t: number }): Presence {
  const room = new MemberRoom({ self: SELF })
  const sessions = new Sessions(() => ({ tokens: 0, bytes: 0, refilledAt: 0 }))
  const roster = new Roster(room, sessions, {
    vouchAfterMs: MEMBER_DEFAULTS.vouchAfterMs,
    idleMs: MEMBER_DEFAULTS.idleMs,
    dials: () => false,
    now: () => clock.t,
    reachOf: () => undefined,
  })
  // Timers that never fire: the notices stay open, as they do within their grace.
  const timers: Clock = { now: () => clock.t, setTimeout: () => ({}), clearTimeout: () => undefined }
  return new Presence({
    room,
    roster,
    clock: timers,
    self: () => SELF,
    takers: () => [],
    lostTakers: () => [],
    emit: () => undefined,
  })
}

describe('doubts about notices of lost links', () => {
  it('are kept for a bounded number of signers and members, however many notices their members answer', () => {
    const clock = { t: 1_000_000_000 }
    const presence = presenceOf(clock)
    const out: RoomEffect[] = []
    const here = (from: string, ts: number): Here => ({ type: 'here', from, name: 'm', ts, state: 'here' })
    const members = Array.from({ length: 100 }, (_, i) => hex('c', i))
    const signers = Array.from({ length: 150 }, (_, i) => hex('d', i))
    let ts = clock.t
    // Each neighbour (its own key and link) brings a signer, then for every member: its presence, a
    // notice that it was lost, and its answer. Each answer proves one notice wrong.
    for (const [n, signer] of signers.entries()) {
      const neighbour = hex('e', n)
      const link = {}
      presence.receive(link, neighbour, here(signer, ++ts), out)
      for (const member of members) {
        presence.receive(link, neighbour, here(member, ++ts), out)
        const notice: Lost = { type: 'lost', from: signer, member, ts }
        presence.receiveLost(link, neighbour, notice, out)
        presence.receive(link, neighbour, here(member, ++ts), out)
      }
      clock.t += 1_000
    }
    expect(out.filter((e) => e.type === 'refuse')).toEqual([])
    // 15,000 notices proved wrong within the presence expiry: at most 4,096 doubts and 4,096 strikes are
    // kept, and what each member and neighbour holds, not an entry for each.
    expect(clock.t - 1_000_000_000).toBeLessThan(PRESENCE_DEFAULTS.expiryMs)
    expect(presence.held).toBeLessThanOrEqual(2 * 4096 + members.length + 2 * signers.length)
  })
})
