/**
 * A relay cannot put words in another member's mouth: parley nodes over secure links, signing with their
 * identity keys, against a hand-driven relay that alters and invents messages.
 */
import {
  type Address,
  encodeFrame,
  FrameDecoder,
  type Link,
  type Message,
  type Msg,
  makeHello,
  type NodeEvent,
  ParleyNode,
  ROOM_CAP,
} from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateKeyPair, type KeyPair } from '../src/identity.js'
import { createMessageAuth } from '../src/message-auth.js'
import { createSecureTransport } from '../src/secure-transport.js'
import { closeAll, hex, LOOPBACK, track } from './helpers.js'

afterEach(closeAll)

const WAIT = { timeout: 60_000, interval: 10 }

function member(name: string) {
  const keyPair = generateKeyPair()
  const events: NodeEvent[] = []
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    auth: createMessageAuth(keyPair),
    id: hex(keyPair.publicKey),
    name,
    listen: LOOPBACK,
  })
  node.on((event) => events.push(event))
  track(() => node.close())
  const shown = () => events.filter((e) => e.type === 'message').map((e) => (e as { body: string }).body)
  const errors = () =>
    events.filter((e) => e.type === 'link-error') as Extract<NodeEvent, { type: 'link-error' }>[]
  return { node, events, shown, errors, id: hex(keyPair.publicKey) }
}

/** A member that speaks the room protocol by hand over a secure link, so it can lie. */
class Impostor {
  readonly received: Message[] = []
  private readonly decoder = new FrameDecoder()
  closed = false

  private constructor(
    readonly link: Link,
    readonly id: string,
  ) {
    link.attach({
      data: (chunk) => this.received.push(...this.decoder.push(chunk).messages),
      drain: () => undefined,
      close: () => {
        this.closed = true
      },
    })
  }

  static async join(keyPair: KeyPair, to: Address): Promise<Impostor> {
    const link = await createSecureTransport(createTcpTransport(), { keyPair }).dial(to)
    track(() => link.destroy())
    const impostor = new Impostor(link, hex(keyPair.publicKey))
    impostor.send(makeHello({ id: impostor.id, name: 'mallory', instance: 'm1' }, ['epoch:m1', ROOM_CAP]))
    const hello = await vi.waitFor(() => {
      const h = impostor.received.find((m) => m.type === 'hello')
      if (h?.type !== 'hello') throw new Error('no hello yet')
      return h
    }, WAIT)
    if (impostor.id < hello.id) impostor.send({ type: 'accept' })
    else await vi.waitFor(() => expect(impostor.received.some((m) => m.type === 'accept')).toBe(true), WAIT)
    impostor.send({ type: 'ack', upTo: 0, base: 0 })
    return impostor
  }

  send(message: Message): void {
    this.link.write(encodeFrame(message))
  }

  messages(): Msg[] {
    return this.received.filter((m): m is Msg => m.type === 'msg')
  }
}

describe('a relay that forges', () => {
  it('is closed with FORGED when it alters a member’s words, and the honest path still delivers them once', async () => {
    const alice = member('alice')
    const bob = member('bob')
    const carol = member('carol')
    const [aliceAt, bobAt, carolAt] = await Promise.all([
      alice.node.start(),
      bob.node.start(),
      carol.node.start(),
    ])
    bob.node.connect(aliceAt)
    const mallory = generateKeyPair()
    const toAlice = await Impostor.join(mallory, aliceAt)
    const toCarol = await Impostor.join(mallory, carolAt)

    alice.node.send('meet at noon')
    const original = await vi.waitFor(() => {
      const m = toAlice.messages()[0]
      if (!m) throw new Error('mallory has nothing to relay yet')
      return m
    }, WAIT)
    expect(original.sig).toBeDefined()
    toCarol.send({ ...original, body: 'meet at midnight', hops: 63 })

    await vi.waitFor(() => expect(carol.errors().map((e) => e.code)).toEqual(['FORGED']), WAIT)
    await vi.waitFor(() => expect(toCarol.closed).toBe(true), WAIT)
    expect(carol.shown()).toEqual([])

    carol.node.connect(bobAt)
    await vi.waitFor(() => expect(carol.shown()).toContain('meet at noon'), WAIT)
    // A later line along the same path (alice, bob, carol) comes after any second copy of the first.
    alice.node.send('see you there')
    await vi.waitFor(() => expect(carol.shown()).toContain('see you there'), WAIT)
    expect(carol.shown()).toEqual(['meet at noon', 'see you there'])
    expect(carol.events.find((e) => e.type === 'message')).toMatchObject({
      from: { id: alice.id, name: 'alice' },
    })
  })

  it('is closed with FORGED when it invents messages of a member or of a stranger, and the room carries on', async () => {
    const alice = member('alice')
    const bob = member('bob')
    const [aliceAt, bobAt] = await Promise.all([alice.node.start(), bob.node.start()])
    bob.node.connect(aliceAt)
    await vi.waitFor(() => expect(bob.node.members().some((m) => m.connected)).toBe(true), WAIT)
    const mallory = generateKeyPair()
    const seen = await Impostor.join(mallory, aliceAt)
    alice.node.send('first')
    await vi.waitFor(() => expect(bob.shown()).toEqual(['first']), WAIT)
    const real = await vi.waitFor(() => {
      // Mallory is alice's neighbour too: she holds a real, signed message of alice.
      const m = seen.messages()[0]
      if (!m) throw new Error('nothing yet')
      return m
    }, WAIT)
    const fake = Buffer.alloc(64, 7).toString('base64url')
    const toBob = await Impostor.join(mallory, bobAt)
    toBob.send({ ...real, seq: 2, id: 'made-up', body: 'alice owes mallory', prev: real.sig!, sig: fake })
    await vi.waitFor(() => expect(bob.errors().map((e) => e.code)).toEqual(['FORGED']), WAIT)

    const stranger = hex(generateKeyPair().publicKey)
    const again = await Impostor.join(mallory, bobAt)
    again.send({ type: 'msg', id: 'x', seq: 1, ts: 0, from: stranger, body: 'hello', prev: fake, sig: fake })
    await vi.waitFor(() => expect(bob.errors().map((e) => e.code)).toEqual(['FORGED', 'FORGED']), WAIT)
    expect(bob.node.members().map((m) => m.peer.id)).not.toContain(stranger)

    alice.node.send('still here')
    await vi.waitFor(() => expect(bob.shown()).toEqual(['first', 'still here']), WAIT)
  })
})
