import { type NodeEvent, ParleyNode } from '@parley/core'
import { freePort } from '@parley/testkit'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateKeyPair } from '../src/identity.js'
import { createSecureTransport } from '../src/secure-transport.js'
import { closeAll, hex, LOOPBACK, rawProxy, track } from './helpers.js'

afterEach(closeAll)

function secureParley(name: string, peers: string[] = [], listen: string = LOOPBACK) {
  const keyPair = generateKeyPair()
  const events: NodeEvent[] = []
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    id: hex(keyPair.publicKey),
    name,
    listen,
    peers,
  })
  node.on((event) => events.push(event))
  track(() => node.close())
  return { node, events, id: hex(keyPair.publicKey) }
}

describe('parley nodes over secure links', () => {
  it('chat with ids that are their public keys, and nothing readable crosses the wire', async () => {
    const bob = secureParley('bob-name-xyz')
    const bobAddress = await bob.node.start()
    const proxy = await rawProxy(bobAddress)
    const alice = secureParley('alice-name-xyz', [proxy.address])
    await alice.node.start()

    await vi.waitFor(() => expect(alice.events.some((e) => e.type === 'connected')).toBe(true), {
      timeout: 30_000,
    })
    alice.node.send('supersecretbody')
    await vi.waitFor(
      () => {
        const message = bob.events.find((e) => e.type === 'message')
        expect(message).toMatchObject({
          body: 'supersecretbody',
          from: { id: alice.id, name: 'alice-name-xyz' },
        })
      },
      { timeout: 30_000 },
    )
    await vi.waitFor(() => expect(alice.events.some((e) => e.type === 'delivered')).toBe(true), {
      timeout: 30_000,
    })

    const wire = proxy.connections.flatMap((c) => [...c.captured['to-server'], ...c.captured['to-client']])
    const all = Buffer.concat(wire)
    expect(all.length).toBeGreaterThan(200)
    for (const secret of ['supersecretbody', 'alice-name-xyz', 'bob-name-xyz', alice.id, bob.id, 'hello']) {
      expect(all.includes(secret), secret).toBe(false)
    }
    // Noise XX encrypts both static keys: a passive observer does not learn who is talking.
    expect(all.includes(Buffer.from(alice.id, 'hex'))).toBe(false)
    expect(all.includes(Buffer.from(bob.id, 'hex'))).toBe(false)
  })

  it('settle on one chat when both nodes dial each other at once', async () => {
    const a = `127.0.0.1:${await freePort()}`
    const b = `127.0.0.1:${await freePort()}`
    const alice = secureParley('alice', [b], a)
    const bob = secureParley('bob', [a], b)
    await Promise.all([alice.node.start(), bob.node.start()])
    alice.node.send('from alice')
    bob.node.send('from bob')
    await vi.waitFor(
      () => {
        expect(
          bob.events.filter((e) => e.type === 'message').map((e) => (e as { body: string }).body),
        ).toEqual(['from alice'])
        expect(
          alice.events.filter((e) => e.type === 'message').map((e) => (e as { body: string }).body),
        ).toEqual(['from bob'])
        expect(alice.events.some((e) => e.type === 'delivered')).toBe(true)
        expect(bob.events.some((e) => e.type === 'delivered')).toBe(true)
      },
      { timeout: 30_000 },
    )
    const connected = alice.events.find((e) => e.type === 'connected')
    expect(connected).toMatchObject({ peer: { id: bob.id, name: 'bob' } })
  })
})
