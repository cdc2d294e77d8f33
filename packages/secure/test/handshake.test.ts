import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TransportError } from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreateIdentity } from '../src/identity.js'
import { KnownPeers } from '../src/known-peers.js'
import { createSecureTransport } from '../src/secure-transport.js'
import { makeVerifier } from '../src/verifier.js'
import { accepting, closeAll, record, secureNode, text, track } from './helpers.js'

afterEach(closeAll)

describe('secure links', () => {
  it('carries bytes both ways and names each end by the key it proved', async () => {
    const alice = secureNode()
    const bob = secureNode()
    const server = await accepting(bob.transport)

    const dialed = await alice.transport.dial(server.address)
    track(() => dialed.destroy())
    const accepted = await server.nextLink()

    expect(dialed.remoteKey).toBe(bob.id)
    expect(accepted.remoteKey).toBe(alice.id)
    expect(dialed.direction).toBe('outbound')
    expect(accepted.direction).toBe('inbound')

    const atBob = record(accepted)
    const atAlice = record(dialed)
    dialed.write(text('hello bob'))
    accepted.write(text('hello alice'))
    expect((await atBob.waitForBytes(9)).toString()).toBe('hello bob')
    expect((await atAlice.waitForBytes(11)).toString()).toBe('hello alice')

    dialed.end()
    expect(await atBob.closed).toBeUndefined()
    expect(await atAlice.closed).toBeUndefined()
    expect(atBob.closes).toHaveLength(1)
    expect(atAlice.closes).toHaveLength(1)
  })

  it('refuses to start without a whole ed25519 key pair', () => {
    expect(() =>
      createSecureTransport(createTcpTransport(), {
        keyPair: { publicKey: new Uint8Array(32), secretKey: new Uint8Array(32) },
      }),
    ).toThrow(/64-byte secretKey/)
  })

  it('rejects a dial to a closed port with the inner transport error', async () => {
    const alice = secureNode()
    const bob = secureNode()
    const server = await accepting(bob.transport)
    await server.listener.close()
    await expect(alice.transport.dial(server.address)).rejects.toBeInstanceOf(TransportError)
  })

  it("keeps a node's key across restarts, so a peer that remembered it still accepts it", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-restart-'))
    track(() => rm(dir, { recursive: true, force: true }))
    const knownPeers = await KnownPeers.open(join(dir, 'alice'))
    const alice = secureNode({ verify: makeVerifier({ knownPeers }) })

    const bobDir = join(dir, 'bob')
    const firstRun = secureNode({ keyPair: await loadOrCreateIdentity(bobDir) })
    const first = await accepting(firstRun.transport)
    ;(await alice.transport.dial(first.address)).destroy()
    await first.listener.close()

    const identity = await loadOrCreateIdentity(bobDir)
    expect(identity.id).toBe(firstRun.id)
    const secondRun = secureNode({ keyPair: identity }).transport.createListener((link) =>
      track(() => link.destroy()),
    )
    track(() => secondRun.close())
    await secondRun.listen(first.address)
    const link = await alice.transport.dial(first.address)
    track(() => link.destroy())
    expect(link.remoteKey).toBe(identity.id)
    expect(knownPeers.entries()).toHaveLength(1)
  })
})
