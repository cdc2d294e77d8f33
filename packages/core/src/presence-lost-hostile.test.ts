/**
 * A member that signs notices that it lost another member again and again, while that member is there
 * through another path: the member answers, and is shown there all along, whether the notices are signed
 * by one key or each by a throwaway key made a member for it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere, signedLost } from '../test/fake-auth.js'
import { A, ALICE, C, CAROL, closeNodes, nodeWorld, rawNeighbour } from '../test/node-world.js'
import type { Address } from './address.js'
import { HERE_CAP, LOST_CAP, ROOM_CAP } from './links.js'

afterEach(closeNodes)

const D: Address = '127.0.0.1:4004'
const DAVE = '4444444444444444'
const MALLORY = '5555555555555555'

/** alice - dave - carol, and mallory, a member linked to alice that will claim carol lost. */
async function carolBehindDave() {
  const w = nodeWorld()
  const carol = w.node('carol', C, { id: CAROL, auth: fakeAuth(CAROL), peers: [D] })
  const dave = w.node('dave', D, { id: DAVE, auth: fakeAuth(DAVE) })
  const alice = w.node('alice', A, { id: ALICE, auth: fakeAuth(ALICE), peers: [D], deadAfterMs: 3_600_000 })
  for (const n of [dave, carol, alice]) await n.node.start()
  await w.clock.advance(100)
  const mallory = await rawNeighbour(w, A, {
    host: '127.0.0.9',
    id: MALLORY,
    caps: [ROOM_CAP, HERE_CAP, LOST_CAP],
  })
  await w.clock.advance(10)
  const carolAtAlice = () => alice.node.members().find((m) => m.peer.id === CAROL)
  return { w, alice, mallory, carolAtAlice }
}

describe('a member that claims another lost again and again', () => {
  it('cannot have it shown gone while it is there through another path, over an hour of notices every 3 s', async () => {
    const { w, alice, mallory, carolAtAlice } = await carolBehindDave()
    const shownGone: number[] = []
    for (let s = 0; s < 3600; s++) {
      if (s % 60 === 0) mallory.send(signedHere(MALLORY, 'mallory', w.clock.now()))
      // Each notice names the newest presence of carol alice holds, as a neighbour that lost her would.
      if (s % 3 === 0) mallory.send(signedLost(MALLORY, CAROL, carolAtAlice()?.hereAt ?? 0))
      await w.clock.advance(1000)
      if (carolAtAlice()?.present !== true) shownGone.push(s)
    }
    expect(shownGone).toEqual([])
    expect(alice.events.of('member-lost')).toEqual([])
    expect(mallory.closed).toBe(false)
  })

  it('cannot either when each notice is signed by a fresh throwaway key, made a member by one presence', async () => {
    const { w, alice, mallory, carolAtAlice } = await carolBehindDave()
    const shownGone: number[] = []
    for (let s = 0, k = 0; s < 3600; s++) {
      if (s % 3 === 0) {
        const signer = (0x6000000000000000n + BigInt(k++)).toString(16)
        mallory.send(signedHere(signer, `t${k}`, w.clock.now()))
        mallory.send(signedLost(signer, CAROL, carolAtAlice()?.hereAt ?? 0))
      }
      await w.clock.advance(1000)
      if (carolAtAlice()?.present !== true) shownGone.push(s)
    }
    expect(shownGone).toEqual([])
    expect(alice.events.of('member-lost')).toEqual([])
    expect(mallory.closed).toBe(false)
  })
})
