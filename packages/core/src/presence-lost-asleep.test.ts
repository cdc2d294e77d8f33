/**
 * A node whose process was stopped (SIGSTOP, a laptop lid closed) for longer than its links last: its
 * neighbours give up on it, and when it wakes, its links turn out broken. That says nothing of the
 * neighbours, which are most likely there: it tells the room it lost one only if it is not back a while
 * after the wake, and a notice that was waiting for an answer when it stopped waits for the answers its
 * links brought meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth, signedHere, signedLost } from '../test/fake-auth.js'
import { FrozenProcess, type WakeOrder } from '../test/frozen-process.js'
import { A, ALICE, B, BOB, C, CAROL, closeNodes, nodeWorld, rawNeighbour } from '../test/node-world.js'
import { HERE_CAP, LOST_CAP, ROOM_CAP } from './links.js'
import { NODE_DEFAULTS, type NodeOptions } from './node-types.js'
import { PRESENCE_DEFAULTS } from './presence.js'

afterEach(closeNodes)

const ORDERS: WakeOrder[] = ['timers first', 'links first']
const DAVE = '4444444444444444'
const RELAY = 'eeeeeeeeeeeeeeee'

const present = (node: { members(): { peer: { id: string }; present?: boolean }[] }, id: string) =>
  node.members().find((m) => m.peer.id === id)?.present

/** Alice, whose process the test stops and wakes, on the world's network and clock. */
function sleeper(w: ReturnType<typeof nodeWorld>, extra: Partial<NodeOptions> = {}) {
  const frozen = new FrozenProcess(w.clock)
  const alice = w.node('alice', A, {
    id: ALICE,
    auth: fakeAuth(ALICE),
    clock: frozen.clock,
    transport: frozen.transport(w.network.transport()),
    ...extra,
  })
  return { frozen, alice }
}

/**
 * How its links broke while it was stopped: its neighbours gave up on its silence (and said so in a
 * `bye` it reads on waking), or its network reset them (its machine slept and joined the network again).
 */
type Broken = 'by its neighbours' | 'by its network'

describe.each(ORDERS)('a node stopped for a minute, woken %s', (order) => {
  it.each<Broken>(['by its neighbours', 'by its network'])(
    'tells nobody it lost the members whose links were broken meanwhile %s, so a member killed later is still told as having maybe left',
    async (broken) => {
      // bob - alice - carol: bob dials alice, alice dials carol.
      const w = nodeWorld()
      const { frozen, alice } = sleeper(w, { peers: [C] })
      const bob = w.node('bob', B, { id: BOB, auth: fakeAuth(BOB), peers: [A] })
      const carol = w.node('carol', C, { id: CAROL, auth: fakeAuth(CAROL) })
      for (const n of [carol, alice, bob]) await n.node.start()
      await w.clock.advance(100)
      expect(present(bob.node, CAROL)).toBe(true)
      frozen.freeze()
      if (broken === 'by its network') {
        await w.clock.advance(1_000)
        for (const at of [A, C]) w.network.partition(at)
        for (const at of [A, C]) w.network.heal(at)
      }
      await w.clock.advance(60_000)
      // Bob and carol gave up on alice, which is not there.
      expect(bob.events.of('disconnected').map((e) => e.peer.id)).toEqual([ALICE])
      expect(carol.events.of('disconnected').map((e) => e.peer.id)).toEqual([ALICE])
      await frozen.thaw(order)
      await w.clock.advance(60_000)
      const linked = alice.node.sessionsSnapshot().filter((s) => s.connected)
      expect(linked.map((s) => s.peer.id).sort()).toEqual([BOB, CAROL])
      expect(bob.events.of('member-lost')).toEqual([])
      expect(carol.events.of('member-lost')).toEqual([])
      // Carol is killed now: alice loses her link to her, and bob, beyond alice, is told.
      w.network.partition(C)
      await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 100)
      expect(bob.events.of('member-lost').map((e) => [e.peer.id, e.by.id])).toEqual([[CAROL, ALICE]])
      expect(present(bob.node, CAROL)).toBe(false)
    },
  )

  it('waits for the answers its links brought while it was stopped before telling a member as lost', async () => {
    const w = nodeWorld()
    const { frozen, alice } = sleeper(w, { deadAfterMs: 3_600_000 })
    await w.clock.advance(3_600_000)
    await alice.node.start()
    const relay = await rawNeighbour(w, A, {
      host: '127.0.0.9',
      id: RELAY,
      caps: [ROOM_CAP, HERE_CAP, LOST_CAP],
    })
    await w.clock.advance(10)
    const t = w.clock.now()
    relay.send(signedHere(DAVE, 'dave', t))
    relay.send(signedLost(RELAY, DAVE, t))
    await w.clock.advance(10)
    // Stopped within the grace; dave's answer arrives while alice does not run.
    frozen.freeze()
    await w.clock.advance(100)
    relay.send(signedHere(DAVE, 'dave', t + 200))
    await w.clock.advance(60_000)
    await frozen.thaw(order)
    await w.clock.advance(PRESENCE_DEFAULTS.lostGraceMs + 100)
    expect(alice.events.of('member-lost')).toEqual([])
    expect(present(alice.node, DAVE)).toBe(true)
    expect(relay.closed).toBe(false)
  })
})

describe.each(ORDERS)('a node stopped while a neighbour died, woken %s', (order) => {
  it('tells the room it lost that neighbour once it is not back after the wake', async () => {
    const w = nodeWorld()
    const { frozen, alice } = sleeper(w, { peers: [C] })
    const bob = w.node('bob', B, { id: BOB, auth: fakeAuth(BOB), peers: [A] })
    const carol = w.node('carol', C, { id: CAROL, auth: fakeAuth(CAROL) })
    for (const n of [carol, alice, bob]) await n.node.start()
    await w.clock.advance(100)
    frozen.freeze()
    await w.clock.advance(1_000)
    // Carol is killed while alice sleeps: her link to alice resets, and she answers no dial.
    w.network.partition(C)
    await w.clock.advance(60_000)
    await frozen.thaw(order)
    await w.clock.advance(10_000)
    // Not yet: a neighbour that is there would have been linked again by now, if not as soon as this.
    expect(bob.events.of('member-lost')).toEqual([])
    await w.clock.advance(NODE_DEFAULTS.deadAfterMs + PRESENCE_DEFAULTS.lostGraceMs)
    expect(bob.events.of('member-lost').map((e) => [e.peer.id, e.by.id])).toEqual([[CAROL, ALICE]])
    expect(present(bob.node, CAROL)).toBe(false)
  })
})
