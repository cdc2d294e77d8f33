import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TransportError } from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fingerprint } from '../src/fingerprint.js'
import { generateKeyPair } from '../src/identity.js'
import { KnownPeers } from '../src/known-peers.js'
import { createSecureTransport } from '../src/secure-transport.js'
import { makeVerifier, type Verdict } from '../src/verifier.js'
import { accepting, closeAll, record, refusals, secureNode, text, track } from './helpers.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-trust-'))
})
afterEach(async () => {
  await closeAll()
  await rm(dir, { recursive: true, force: true })
})

describe('trust', () => {
  it('refuses a peer whose key is not the pinned one, before either side sees a byte', async () => {
    const refused = refusals()
    const bob = secureNode({ onRefused: refused.onRefused })
    const server = await accepting(bob.transport)
    const wrongPin = generateKeyPair()
    const alice = secureNode({
      verify: makeVerifier({
        pins: new Map([[server.address, Buffer.from(wrongPin.publicKey).toString('hex')]]),
      }),
    })

    const error = await alice.transport.dial(server.address).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'UNTRUSTED' })
    expect((error as Error).message).toContain(fingerprint(bob.id).full)
    expect((error as Error).message).toContain('--peer-key')

    // Bob is told that alice refused him, and never got a link to write to.
    const report = await refused.next()
    expect(report).toMatchObject({ code: 'REFUSED', direction: 'inbound', remoteKey: alice.id })
    expect(report.reason).toContain('refused the link')
    expect(server.accepted).toHaveLength(0)
  })

  it('accepts the pinned key', async () => {
    const bob = secureNode()
    const server = await accepting(bob.transport)
    const alice = secureNode({
      verify: makeVerifier({ pins: new Map([[server.address, bob.id]]) }),
    })
    const link = await alice.transport.dial(server.address)
    track(() => link.destroy())
    expect(link.remoteKey).toBe(bob.id)
  })

  it('remembers a key on first contact and refuses a changed key at that address with the warning', async () => {
    const knownPeers = await KnownPeers.open(dir)
    const alice = secureNode({ verify: makeVerifier({ knownPeers }) })
    const bob = secureNode()
    const server = await accepting(bob.transport)
    const first = await alice.transport.dial(server.address)
    first.destroy()
    expect(knownPeers.check(server.address, bob.id)).toBe('match')

    // Someone else now answers at bob's address.
    await server.listener.close()
    const impostor = createSecureTransport(createTcpTransport(), { keyPair: generateKeyPair() })
    const listener = impostor.createListener((link) => link.destroy())
    track(() => listener.close())
    await listener.listen(server.address)

    const error = (await alice.transport.dial(server.address).catch((err: unknown) => err)) as TransportError
    expect(error).toMatchObject({ code: 'UNTRUSTED' })
    expect(error.message).toContain('WARNING: THE KEY OF PEER')
    expect(error.message).toContain(fingerprint(bob.id).full)
    expect(error.message).toContain(`remove\nline`)
    expect(error.message).toContain(knownPeers.file)
    expect(error.message).toMatch(/--peer-key [a-z2-7-]{69}/)
  })

  it('lets only listed keys in when an allowlist is set, and tells the refused dialer why', async () => {
    const alice = secureNode()
    const carol = secureNode()
    const refused = refusals()
    const bob = secureNode({
      verify: makeVerifier({ allow: new Set([alice.id]) }),
      onRefused: refused.onRefused,
    })
    const server = await accepting(bob.transport)

    const link = await alice.transport.dial(server.address)
    track(() => link.destroy())
    expect((await server.nextLink()).remoteKey).toBe(alice.id)

    const error = (await carol.transport.dial(server.address).catch((err: unknown) => err)) as TransportError
    // Refused by the other end, on this node's key: not a key this node distrusts.
    expect(error).toMatchObject({ code: 'REFUSED' })
    expect(error.message).toContain("does not trust this node's key")
    expect(error.message).toContain(fingerprint(carol.id).full)

    const report = await refused.next()
    expect(report).toMatchObject({ code: 'UNTRUSTED', remoteKey: carol.id })
    expect(report.reason).toContain('allowlist')
    expect(report.reason).toContain(fingerprint(carol.id).full)
    expect(server.accepted).toHaveLength(1)
  })

  it('keeps serving the listed peer after refusing another', async () => {
    const alice = secureNode()
    const carol = secureNode()
    const bob = secureNode({ verify: makeVerifier({ allow: new Set([alice.id]) }) })
    const server = await accepting(bob.transport)
    await expect(carol.transport.dial(server.address)).rejects.toMatchObject({ code: 'REFUSED' })
    const link = await alice.transport.dial(server.address)
    track(() => link.destroy())
    const accepted = record(await server.nextLink())
    link.write(text('still here'))
    expect((await accepted.waitForBytes(10)).toString()).toBe('still here')
  })

  it('waits for an asynchronous verdict before handing over the link', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let asked!: () => void
    const verifying = new Promise<void>((resolve) => {
      asked = resolve
    })
    let verdicts = 0
    const bob = secureNode({
      verify: async (): Promise<Verdict> => {
        // The first peer's verdict waits for the gate; the others' come at once.
        if (verdicts++ === 0) {
          asked()
          await gate
        }
        return 'ok'
      },
    })
    const server = await accepting(bob.transport)
    const alice = secureNode()
    let dialed = false
    const dial = alice.transport.dial(server.address).then((link) => {
      dialed = true
      track(() => link.destroy())
      return link
    })
    await verifying
    // Another peer's whole handshake goes through meanwhile, as alice's would have without the wait.
    const carol = await secureNode().transport.dial(server.address)
    track(() => carol.destroy())
    await server.nextLink()
    expect(dialed).toBe(false)
    expect(server.accepted).toHaveLength(1)
    release()
    await dial
    await server.nextLink()
    expect(server.accepted).toHaveLength(2)
  })

  it('drops a handshake still waiting for its verdict when the listener closes', async () => {
    let verdicts = 0
    let asked!: () => void
    const verifying = new Promise<void>((resolve) => {
      asked = resolve
    })
    const bob = secureNode({
      verify: () => {
        verdicts++
        asked()
        return new Promise<Verdict>(() => {})
      },
    })
    const server = await accepting(bob.transport)
    const dial = secureNode().transport.dial(server.address)
    await verifying
    expect(verdicts).toBe(1)
    await server.listener.close()
    await expect(dial).rejects.toBeInstanceOf(TransportError)
    expect(server.accepted).toHaveLength(0)
  })
})
