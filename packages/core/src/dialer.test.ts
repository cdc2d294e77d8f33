import { afterEach, describe, expect, it } from 'vitest'
import type { ManualClock } from '../test/manual-clock.js'
import type { MemoryNetwork } from '../test/memory-transport.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import { REFUSING_BACKOFF } from '../test/refusing-backoff.js'
import type { Address } from './address.js'
import { type Journal, type JournalRecord, journalOrigin } from './journal.js'
import { makeHello } from './link-machine.js'
import type { PeerState } from './peer-machine.js'

const ALICE = '1111111111111111'
const BOB = '8888888888888888'
const STRANGER = 'eeeeeeeeeeeeeeee'
const A: Address = '127.0.0.1:4001'
const B: Address = '127.0.0.1:4002'

afterEach(closeNodes)

const world = nodeWorld

/** A stranger that dials alice and says it listens on bob's address. */
async function impostor(network: MemoryNetwork) {
  const peer = new RawPeer(await network.transport('127.0.0.2').dial(A))
  peer.send(makeHello({ id: STRANGER, name: 'bob', instance: 'x-1' }, ['room'], B))
  return peer
}

describe('first contact', () => {
  it('keeps dialing the real address when a stranger dialed in announcing it, and the real peer gets its session', async () => {
    const { network, clock, node } = world()
    const alice = node('alice', A, { id: ALICE, peers: [B] })
    await alice.node.start()
    // Nobody listens at B yet: alice's dial fails and waits to retry.
    await clock.advance(0)
    const stranger = await impostor(network)
    await clock.advance(0)
    stranger.send({ type: 'ack', upTo: 0, base: 0 })
    await clock.advance(0)
    expect(alice.events.events).toContainEqual(
      expect.objectContaining({ type: 'connected', peer: { id: STRANGER, name: 'bob' } }),
    )
    // The stranger is a member like any other, but the slot for B is still looking for B.
    expect(alice.node.peerStates()).toMatchObject([{ target: B, state: { status: 'connecting' } }])

    const bob = node('bob', B, { id: BOB })
    await bob.node.start()
    await clock.advance(1_000)
    expect(alice.node.peerStates()).toMatchObject([
      { target: B, state: { status: 'connected', peer: { id: BOB, name: 'bob' } } },
    ])
    expect(bob.events.events).toContainEqual(
      expect.objectContaining({ type: 'connected', peer: { id: ALICE, name: 'alice' } }),
    )
    expect(
      alice.node
        .sessionsSnapshot()
        .filter((s) => s.connected)
        .map((s) => s.peer.id)
        .sort(),
    ).toEqual([BOB, STRANGER])
    alice.node.send('hello bob')
    await clock.advance(0)
    expect(bob.events.events).toContainEqual(expect.objectContaining({ type: 'message', body: 'hello bob' }))
    expect(stranger.closed).toBe(false)
  })

  it('lets a peer that dialed in stand for the dial when a pin names its key at the address it announces', async () => {
    const { network, clock, node } = world()
    const pins = new Map([[B, STRANGER]])
    const alice = node('alice', A, {
      id: ALICE,
      peers: [B],
      pinnedAt: (peerId, listen) => pins.get(listen) === peerId,
    })
    await alice.node.start()
    await clock.advance(0)
    await impostor(network)
    await clock.advance(0)
    expect(alice.node.peerStates()).toMatchObject([
      { target: B, state: { status: 'connected', peer: { id: STRANGER } } },
    ])
  })

  it('does not let an announcement stand for the dial when the pin names another key', async () => {
    const { network, clock, node } = world()
    const alice = node('alice', A, { id: ALICE, peers: [B], pinnedAt: (peerId) => peerId === BOB })
    await alice.node.start()
    await clock.advance(0)
    await impostor(network)
    await clock.advance(0)
    expect(alice.node.peerStates()).toMatchObject([{ target: B, state: { status: 'connecting' } }])
  })
})

/** A journal in memory that counts what each other member makes it hold, as a store does. */
function countingJournal(): Journal {
  const bytes = new Map<string, number>()
  let total = 0
  return {
    append: (records: readonly JournalRecord[]) => {
      for (const record of records) {
        const origin = journalOrigin(record)
        if (origin === undefined) continue
        const size = JSON.stringify(record).length
        bytes.set(origin, (bytes.get(origin) ?? 0) + size)
        total += size
      }
      return Promise.resolve()
    },
    usage: {
      bytesOf: (origin) => bytes.get(origin) ?? 0,
      get total() {
        return total
      },
    },
  }
}

describe('both ends dialing each other', () => {
  /**
   * Bob (the higher id, so alice decides which link stays) dials X, where each link says it is alice and
   * then closes without the `bye` "duplicate link" that alice would send: a path that dropped what was in
   * flight when the connection closed (a proxy, a cut), while alice's own dial gave the two a session.
   */
  async function bobDialingAliceTwice(
    ending: 'no bye' | 'a refusal' | 'duplicate',
    restarted = false,
    answer: Promise<void> = Promise.resolve(),
  ) {
    const { network, clock, node } = world()
    const X: Address = '127.0.0.1:4003'
    let attempts = 0
    let instance = ''
    const far = await network.transport('127.0.0.3').createListener(async (link) => {
      attempts++
      // Held, the link is open and its slot has not answered yet.
      await answer
      const peer = new RawPeer(link)
      // The hello of alice's process, or of a new one (alice restarted while her old link lingers).
      peer.send(makeHello({ id: ALICE, name: 'alice', instance: restarted ? 'alice-2' : instance }, []))
      // Lost, the bye leaves only the close; or the far end refuses a second link with a code of its own.
      if (ending === 'a refusal') peer.send({ type: 'bye', reason: 'one link per peer', code: 'BUSY' })
      if (ending === 'duplicate') peer.send({ type: 'bye', reason: 'duplicate link', code: 'DUPLICATE' })
      setImmediate(() => link.destroy())
    })
    await far.listen(X)
    const bob = node('bob', B, { id: BOB, peers: [X] })
    await bob.node.start()
    const alice = node('alice', A, { id: ALICE, peers: [B] })
    instance = alice.node.instance
    await alice.node.start()
    return { clock, bob, alice, X, attempts: () => attempts }
  }

  it.each(['no bye', 'a refusal'] as const)(
    'a dialed link that ends (%s) after the hello of a peer already in session stands for the dial, and the outbox settles',
    async (ending) => {
      const { clock, bob, alice, X, attempts } = await bobDialingAliceTwice(ending)
      await clock.advance(0)
      await clock.advance(5_000)
      expect(bob.events.events).toContainEqual(
        expect.objectContaining({ type: 'connected', peer: { id: ALICE, name: 'alice' } }),
      )
      // The slot for X knows whom it reaches, and stops redialing it while that session lasts.
      expect(bob.node.peerStates()).toMatchObject([
        { target: X, state: { status: 'connected', peer: { id: ALICE } } },
      ])
      const dialed = attempts()
      await clock.advance(60_000)
      expect(attempts()).toBe(dialed)
      // Acknowledged, a message leaves the outbox: no slot that never answered holds it.
      bob.node.send('hi alice')
      await clock.advance(100)
      expect(alice.events.events).toContainEqual(
        expect.objectContaining({ type: 'message', body: 'hi alice' }),
      )
      expect(bob.node.pending).toBe(0)
    },
  )
  it.each(['no bye', 'duplicate'] as const)(
    'acknowledged while the slot had not answered, messages leave the outbox when it answers (%s), and whoever waits is told',
    async (ending) => {
      let answer = () => {}
      const answered = new Promise<void>((resolve) => {
        answer = resolve
      })
      const { clock, bob, alice } = await bobDialingAliceTwice(ending, false, answered)
      await clock.advance(0)
      bob.node.send('hi alice')
      await clock.advance(100)
      expect(alice.events.events).toContainEqual(
        expect.objectContaining({ type: 'message', body: 'hi alice' }),
      )
      expect(bob.events.of('delivered')).toHaveLength(1)
      // The slot for X has not answered: it may reach a peer that has not acknowledged, so the message waits.
      expect(bob.node.pending).toBe(1)
      let waited: number | undefined
      void bob.node.whenDelivered(60_000).then((left) => {
        waited = left
      })
      const deliveredBefore = bob.events.of('delivered').length
      answer()
      await clock.advance(100)
      // X was alice: the message leaves the outbox with no acknowledgement of its own, and `settled` says so.
      expect(bob.node.pending).toBe(0)
      expect(bob.events.of('delivered')).toHaveLength(deliveredBefore)
      expect(bob.events.of('settled').at(-1)).toEqual({ type: 'settled', upTo: 1, pending: 0 })
      // Well before its 60 s are up, the wait ends with nothing left.
      expect(waited).toBe(0)
    },
  )
  it('a dialed link whose hello comes from a restarted process of that peer does not stand for the dial', async () => {
    const { clock, bob, X, attempts } = await bobDialingAliceTwice('no bye', true)
    await clock.advance(0)
    await clock.advance(5_000)
    expect(bob.events.events).toContainEqual(
      expect.objectContaining({ type: 'connected', peer: { id: ALICE, name: 'alice' } }),
    )
    // The new process is the one to reach: the slot keeps dialing X, never held by the old session.
    expect(bob.node.peerStates()[0]).toMatchObject({ target: X })
    expect(bob.node.peerStates()[0]?.state.status).not.toBe('connected')
    const dialed = attempts()
    await clock.advance(60_000)
    expect(attempts()).toBeGreaterThan(dialed)
  })
})

describe('a neighbour that refuses our messages (OVER_QUOTA)', () => {
  const backoff = REFUSING_BACKOFF
  const quota = { perOrigin: 4_000, total: 6_000 }
  const refusedOf = (state: PeerState) => ('refused' in state ? state.refused : undefined)

  /** Moves the clock a step at a time until `done` holds; a bounded number of steps catches a hang. */
  async function until(clock: ManualClock, done: () => boolean, stepMs = 10) {
    for (let i = 0; i < 20_000 && !done(); i++) await clock.advance(stepMs)
    expect(done()).toBe(true)
  }

  it('redials later and later after each refusal, and says each one with its code, the count and the wait', async () => {
    const { clock, node } = world()
    const victim = node('victim', B, {
      id: BOB,
      journal: countingJournal(),
      journalQuota: quota,
      rateLimit: false,
    })
    const chatty = node('chatty', A, { id: ALICE, backoff, peers: [B] })
    await victim.node.start()
    await chatty.node.start()
    for (let i = 0; i < 30; i++) chatty.node.send(`${i} ${'c'.repeat(500)}`)
    const refusals = () =>
      chatty.events.events.flatMap((e) => {
        const refused = e.type === 'peer-state' ? refusedOf(e.state) : undefined
        return refused && e.type === 'peer-state' && e.state.status === 'reconnecting' ? [refused] : []
      })
    const dialsIn = () => victim.events.events.filter((e) => e.type === 'connected').length
    await until(clock, () => refusals().length >= 4)
    expect(refusals().map(({ by, code, times, retryMs }) => ({ by, code, times, retryMs }))).toEqual([
      { by: 'peer', code: 'OVER_QUOTA', times: 1, retryMs: 10_000 },
      { by: 'peer', code: 'OVER_QUOTA', times: 2, retryMs: 20_000 },
      { by: 'peer', code: 'OVER_QUOTA', times: 3, retryMs: 40_000 },
      { by: 'peer', code: 'OVER_QUOTA', times: 4, retryMs: 40_000 },
    ])
    // One dial per refusal: the first, then one after each wait.
    expect(dialsIn()).toBe(4)
    // Every drop says it was a refusal; every redial after the first says it follows one.
    const drops = chatty.events.events.flatMap((e) => (e.type === 'disconnected' ? [e.refusal] : []))
    expect(drops).toEqual(['OVER_QUOTA', 'OVER_QUOTA', 'OVER_QUOTA', 'OVER_QUOTA'])
    const links = chatty.events.events.flatMap((e) =>
      e.type === 'connected' ? [e.afterRefusal ?? false] : [],
    )
    expect(links).toEqual([false, true, true, true])
    // Nothing is lost: what was refused waits in the outbox.
    expect(chatty.node.pending).toBeGreaterThan(0)
  })

  it('backs off from redialing a neighbour whose messages it refuses itself', async () => {
    const { clock, node } = world()
    const chatty = node('chatty', A, { id: ALICE })
    const victim = node('victim', B, {
      id: BOB,
      journal: countingJournal(),
      journalQuota: quota,
      rateLimit: false,
      backoff,
      peers: [A],
    })
    await chatty.node.start()
    await victim.node.start()
    for (let i = 0; i < 30; i++) chatty.node.send(`${i} ${'c'.repeat(500)}`)
    const slot = () => victim.node.peerStates()[0]?.state
    await until(clock, () => {
      const state = slot()
      return state !== undefined && (refusedOf(state)?.times ?? 0) >= 2
    })
    expect(slot()).toMatchObject({
      status: 'reconnecting',
      refused: { by: 'self', code: 'OVER_QUOTA', times: 2, retryMs: 20_000 },
    })
  })
})

describe('disconnect: no longer dialing an address', () => {
  it('releases the outbox a dead address held once every member acknowledged, and stops its redials', async () => {
    const { clock, node } = world()
    const bob = node('bob', B, { id: BOB })
    await bob.node.start()
    const dead: Address = '127.0.0.1:4999'
    const alice = node('alice', A, { id: ALICE, peers: [B, dead] })
    await alice.node.start()
    await clock.advance(1_000)
    alice.node.send('hi bob')
    await clock.advance(100)
    expect(bob.events.events).toContainEqual(expect.objectContaining({ type: 'message', body: 'hi bob' }))
    // Nobody answered at the dead address yet: whoever does may be owed the message.
    expect(alice.node.pending).toBe(1)
    expect(alice.node.peerStates().map((p) => p.target)).toEqual([B, dead])

    expect(alice.node.disconnect(dead)).toBe(true)
    expect(alice.node.pending).toBe(0)
    expect(alice.node.peerStates().map((p) => p.target)).toEqual([B])
    // Its retries are over: nothing more is dialed there, and bob's link is untouched.
    await clock.advance(120_000)
    expect(alice.node.peerStates()).toMatchObject([{ target: B, state: { status: 'connected' } }])
    alice.node.send('still here')
    await clock.advance(100)
    expect(bob.events.events).toContainEqual(expect.objectContaining({ type: 'message', body: 'still here' }))
    expect(alice.node.pending).toBe(0)
    // An address it does not dial is not news.
    expect(alice.node.disconnect(dead)).toBe(false)
  })

  it('closes the link the dial made, and dialing it again delivers what was sent meanwhile', async () => {
    const { clock, node } = world()
    const bob = node('bob', B, { id: BOB })
    await bob.node.start()
    const alice = node('alice', A, { id: ALICE, peers: [B] })
    await alice.node.start()
    await clock.advance(1_000)
    expect(alice.node.disconnect(B)).toBe(true)
    await clock.advance(100)
    expect(alice.events.events).toContainEqual(
      expect.objectContaining({ type: 'disconnected', peer: { id: BOB, name: 'bob' } }),
    )
    // bob is told alice closed one link, not that she left the room.
    expect(bob.events.events).toContainEqual({
      type: 'disconnected',
      peer: { id: ALICE, name: 'alice' },
      reason:
        'alice closed this link with /disconnect; it has not left, and its messages may still come through other members',
    })
    // No neighbour is left to acknowledge it, so it waits; with others, bob would catch up from the window.
    alice.node.send('while apart')
    await clock.advance(60_000)
    expect(alice.node.pending).toBe(1)
    alice.node.connect(B)
    await clock.advance(1_000)
    expect(bob.events.events).toContainEqual(
      expect.objectContaining({ type: 'message', body: 'while apart' }),
    )
    expect(alice.node.pending).toBe(0)
  })
})
