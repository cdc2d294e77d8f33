import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedGone, signedHere } from '../test/fake-auth.js'
import {
  A,
  ALICE,
  aliceBehindRawRelay,
  B,
  BOB,
  C,
  CAROL,
  closeNodes,
  nodeWorld,
  rawNeighbour,
} from '../test/node-world.js'
import { HERE_CAP, ROOM_CAP } from './links.js'
import type { MessageAuth } from './room-types.js'
import { type Here, MAX_REASON_LENGTH, parseMessage } from './schema.js'

afterEach(closeNodes)

const DAVE = 'dddddddddddddddd'

/** alice—bob—carol in a line, each signing, alice and carol dialing bob; `bobAuth` is bob's. */
async function line(bobAuth: MessageAuth = fakeAuth(BOB)) {
  const w = nodeWorld()
  const bob = w.node('bob', B, { id: BOB, auth: bobAuth })
  const alice = w.node('alice', A, { id: ALICE, auth: fakeAuth(ALICE), peers: [B] })
  const carol = w.node('carol', C, { id: CAROL, auth: fakeAuth(CAROL), peers: [B] })
  await bob.node.start()
  await alice.node.start()
  await carol.node.start()
  await w.clock.advance(100)
  expect(carol.node.members().find((m) => m.peer.id === ALICE)).toMatchObject({
    direct: false,
    present: true,
  })
  return { w, alice, bob, carol }
}

/** What `raw` was sent of `member`'s presence. */
const presencesOf = (raw: { received: readonly unknown[] }, member: string) =>
  raw.received.filter((m): m is Here => (m as Here).type === 'here' && (m as Here).from === member)

describe("a member's reason for leaving", () => {
  it('reaches a member two hops away, in her own words with blank runs made one space, as her neighbour reads it', async () => {
    const { w, alice, bob, carol } = await line()
    const quitAt = w.clock.now()
    await alice.node.close('back \n  tomorrow')
    await w.clock.advance(10)
    expect(bob.events.of('disconnected').find((e) => e.peer.id === ALICE)?.reason).toBe(
      'alice left (back tomorrow)',
    )
    expect(carol.events.of('member-left')).toEqual([
      { type: 'member-left', peer: { id: ALICE, name: 'alice' }, at: quitAt, reason: 'back tomorrow' },
    ])
  })

  it('is cut to the length a bye carries, and signed apart from the presence it goes with', async () => {
    const { w, alice, raw } = await aliceBehindRawRelay(60_000)
    await alice.node.close('x'.repeat(MAX_REASON_LENGTH + 50))
    await w.clock.advance(10)
    const gone = presencesOf(raw, ALICE).find((h) => h.state === 'gone')
    expect(gone?.reason).toBe('x'.repeat(MAX_REASON_LENGTH))
    expect(parseMessage(JSON.parse(JSON.stringify(gone)))).toEqual(gone)
    // Its presence signature is the one every release checks: over the presence alone.
    const auth = fakeAuth(ALICE)
    const { reason, reasonSig, ...presence } = gone as Here
    expect(auth.verify(ALICE, auth.hereHash!(presence), presence.sig as string)).toBe(true)
    const reasonHash = auth.hereReasonHash!({ ...presence, reason: reason as string })
    expect(auth.verify(ALICE, reasonHash, reasonSig as string)).toBe(true)
  })

  it('is cut before an emoji at the boundary, not inside it: no half of the pair goes, in the gone or the bye', async () => {
    const { w, alice, bob, carol } = await line()
    const kept = 'x'.repeat(MAX_REASON_LENGTH - 1)
    await alice.node.close(`${kept}\u{1F600} and more`)
    await w.clock.advance(10)
    const left = bob.events.of('disconnected').find((e) => e.peer.id === ALICE)?.reason
    expect(left).toBe(`alice left (${kept})`)
    expect(carol.events.of('member-left')).toMatchObject([{ peer: { id: ALICE }, reason: kept }])
  })

  it('goes in a gone cut before an emoji at the boundary, well-formed and signed as it is', async () => {
    const { w, alice, raw } = await aliceBehindRawRelay(60_000)
    const kept = 'x'.repeat(MAX_REASON_LENGTH - 1)
    await alice.node.close(`${kept}\u{1F600} and more`)
    await w.clock.advance(10)
    const gone = presencesOf(raw, ALICE).find((h) => h.state === 'gone') as Here
    expect(gone.reason).toBe(kept)
    const auth = fakeAuth(ALICE)
    const { reason, reasonSig, ...presence } = gone
    expect(auth.verify(ALICE, auth.hereReasonHash!({ ...presence, reason: kept }), reasonSig as string)).toBe(
      true,
    )
    expect(parseMessage(JSON.parse(JSON.stringify(gone)))).toEqual(gone)
  })

  it('is dropped, not shown nor relayed, when a relay altered it, left out its signature or took it from another leave', async () => {
    const { w, alice, raw } = await aliceBehindRawRelay(60_000)
    const onward = await rawNeighbour(w, A, { host: '127.0.0.8', id: DAVE, caps: [ROOM_CAP, HERE_CAP] })
    await w.clock.advance(10)
    const t = w.clock.now()
    const forged: Here[] = [
      { ...signedGone(CAROL, 'carol', t + 1, 'back tomorrow'), reason: 'alice owes me money' },
      { ...signedGone(CAROL, 'carol', t + 3, 'back tomorrow'), reasonSig: undefined },
      {
        ...signedGone(CAROL, 'carol', t + 5, 'gone fishing'),
        reasonSig: signedGone(CAROL, 'carol', t + 1, 'gone fishing').reasonSig,
      },
    ].map((frame) => JSON.parse(JSON.stringify(frame)))
    for (const [i, gone] of forged.entries()) {
      raw.send(signedHere(CAROL, 'carol', t + 2 * i))
      await w.clock.advance(10)
      raw.send(gone)
      await w.clock.advance(10)
    }
    expect(alice.events.of('member-left').map((e) => [e.peer.id, e.reason])).toEqual([
      [CAROL, undefined],
      [CAROL, undefined],
      [CAROL, undefined],
    ])
    const relayed = presencesOf(onward, CAROL).filter((h) => h.state === 'gone')
    expect(relayed).toHaveLength(3)
    for (const gone of relayed) {
      expect(gone).not.toHaveProperty('reason')
      expect(gone).not.toHaveProperty('reasonSig')
    }
    // The presence itself is carol's: the relay keeps its link.
    expect(raw.closed).toBe(false)
    expect(alice.events.of('link-error')).toEqual([])
  })

  it('is shown past a relay that checks it, and relayed with it', async () => {
    const { w, alice, raw } = await aliceBehindRawRelay(60_000)
    const onward = await rawNeighbour(w, A, { host: '127.0.0.8', id: DAVE, caps: [ROOM_CAP, HERE_CAP] })
    await w.clock.advance(10)
    const t = w.clock.now()
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    const gone = signedGone(CAROL, 'carol', t + 1, 'back tomorrow')
    raw.send(gone)
    await w.clock.advance(10)
    expect(alice.events.of('member-left').map((e) => e.reason)).toEqual(['back tomorrow'])
    expect(presencesOf(onward, CAROL).at(-1)).toEqual(gone)
  })
})

describe('a leave with its reason past nodes of an earlier release', () => {
  it('is still told, without its reason, after a relay stripped the fields it does not know', async () => {
    const { w, alice, raw } = await aliceBehindRawRelay(60_000)
    const t = w.clock.now()
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    // An earlier release re-encodes a presence it relays with the fields it knows only.
    const { reason: _reason, reasonSig: _reasonSig, ...stripped } = signedGone(CAROL, 'carol', t + 1, 'home')
    raw.send(stripped)
    await w.clock.advance(10)
    expect(alice.events.of('member-left')).toEqual([
      { type: 'member-left', peer: { id: CAROL, name: 'carol' }, at: t + 1 },
    ])
    expect(raw.closed).toBe(false)
    expect(alice.events.of('link-error')).toEqual([])
  })

  it('reaches a member behind a relay that cannot check reasons as a leave, verified and relayed, without the reason', async () => {
    // Bob's signing knows no reason (as an earlier release's): he checks and relays alice's leave as before.
    const { hereReasonHash: _unknown, ...earlier } = fakeAuth(BOB)
    const { w, alice, bob, carol } = await line(earlier)
    const quitAt = w.clock.now()
    await alice.node.close('back tomorrow')
    await w.clock.advance(10)
    expect(carol.events.of('member-left')).toEqual([
      { type: 'member-left', peer: { id: ALICE, name: 'alice' }, at: quitAt },
    ])
    expect(carol.events.of('link-error')).toEqual([])
    expect(bob.events.of('link-error')).toEqual([])
    expect(carol.node.members().find((m) => m.peer.id === BOB)).toMatchObject({ connected: true })
  })
})
