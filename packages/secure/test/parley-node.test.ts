import { type NodeEvent, ParleyNode } from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateKeyPair } from '../src/identity.js'
import { createSecureTransport } from '../src/secure-transport.js'
import { closeAll, hex, LOOPBACK, rawProxy, track } from './helpers.js'

afterEach(closeAll)

function secureParley(name: string, peers: Array<{ host: string; port: number }> = []) {
  const keyPair = generateKeyPair()
  const events: NodeEvent[] = []
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    id: hex(keyPair.publicKey),
    name,
    listen: LOOPBACK,
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
      timeout: 10_000,
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
      { timeout: 10_000 },
    )
    await vi.waitFor(() => expect(alice.events.some((e) => e.type === 'delivered')).toBe(true), {
      timeout: 10_000,
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
})
