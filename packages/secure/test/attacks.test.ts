import { TransportError } from '@parley/core'
import { afterEach, describe, expect, it } from 'vitest'
import { fingerprint } from '../src/fingerprint.js'
import { RECORD_LIMIT } from '../src/secure-link.js'
import { makeVerifier } from '../src/verifier.js'
import {
  accepting,
  closeAll,
  FrameSplitter,
  rawClient,
  rawProxy,
  record,
  refusals,
  secureNode,
  text,
  track,
} from './helpers.js'

afterEach(closeAll)

/**
 * Frames per direction, from the dialer: 0 = Noise e, 1 = Noise s+se, 2 = secretstream header, 3 = status,
 * then data records. From the listener: 0 = Noise e+ee+s+es, 1 = header, 2 = status, then data records.
 */
const FIRST_DATA_FRAME = { 'to-server': 4, 'to-client': 3 } as const

describe('attacks', () => {
  it('lets a newcomer in while connections from many hosts squat on the handshake slots: the oldest goes', async () => {
    const seen = refusals()
    const server = secureNode({ maxPendingHandshakes: 4, maxPendingPerSource: 2, onRefused: seen.onRefused })
    const listening = await accepting(server.transport)
    const closedAt: number[] = []
    const ports: (number | undefined)[] = []
    for (const host of ['127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.3']) {
      const socket = await rawClient(listening.address, host)
      const index = ports.length
      socket.on('close', () => closedAt.push(index))
      ports.push(socket.localPort)
    }
    // A third from one host is refused at once: the per-host cap evicts nobody.
    const third = await rawClient(listening.address, '127.0.0.2')
    await new Promise((resolve) => third.once('close', resolve))
    expect(await seen.next()).toMatchObject({
      code: 'TOO_MANY',
      reason: expect.stringContaining('2 from 127.0.0.2'),
    })

    // Four silent connections fill the node's slots; an honest dial still gets through, at once.
    const client = secureNode()
    const link = await client.transport.dial(listening.address)
    track(() => link.destroy())
    expect(await listening.nextLink()).toBeDefined()
    const evicted = await seen.next()
    expect(evicted).toMatchObject({ code: 'TOO_MANY', reason: expect.stringContaining('oldest of 4') })
    expect(evicted.address).toBe(`127.0.0.2:${ports[0]}`)
    await expect.poll(() => closedAt).toEqual([0])
  })

  it('detects a man in the middle that terminates the handshake on both sides with its own key', async () => {
    const bob = secureNode()
    const server = await accepting(bob.transport)

    // The proxy accepts alice's connection as if it were bob, dials bob itself, and relays plaintext.
    const mallory = secureNode()
    const relayed: Buffer[] = []
    const proxy = await accepting(mallory.transport)
    void proxy.nextLink().then(async (fromAlice) => {
      const toBob = await mallory.transport.dial(server.address)
      track(() => toBob.destroy())
      fromAlice.attach({
        data: (chunk) => {
          relayed.push(Buffer.from(chunk))
          toBob.write(chunk)
        },
        drain: () => {},
        close: () => toBob.destroy(),
      })
      toBob.attach({
        data: (chunk) => fromAlice.write(chunk),
        drain: () => {},
        close: () => fromAlice.destroy(),
      })
    })

    // Alice knows bob's key (from an invite or a pin) and dials what she thinks is bob.
    const alice = secureNode({
      verify: makeVerifier({ pins: new Map([[proxy.address, bob.id]]) }),
    })
    const error = (await alice.transport.dial(proxy.address).catch((err: unknown) => err)) as TransportError
    expect(error).toBeInstanceOf(TransportError)
    expect(error.code).toBe('UNTRUSTED')
    expect(error.message).toContain(fingerprint(mallory.id).full)
    expect(error.message).toContain(fingerprint(bob.id).full)
    expect(relayed).toHaveLength(0)
  })

  it('closes the link with CRYPTO when one bit of a record is flipped, and a new dial then works', async () => {
    const bob = secureNode()
    const server = await accepting(bob.transport)
    const tampered = FIRST_DATA_FRAME['to-server'] + 1
    let connection = 0
    const proxy = await rawProxy(server.address, {
      frame: (direction, index, frame) => {
        if (connection === 1 && direction === 'to-server' && index === tampered)
          frame[frame.length - 5]! ^= 0x08
        return frame
      },
    })
    const alice = secureNode()

    connection = 1
    const link = await alice.transport.dial(proxy.address)
    const accepted = record(await server.nextLink())
    const atAlice = record(link)
    link.write(text('first record is fine'))
    await accepted.waitForBytes(20)
    link.write(text('second record is tampered with'))

    const error = await accepted.closed
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'CRYPTO' })
    expect(error?.message).toMatch(/did not authenticate/)
    expect(accepted.bytes().toString()).toBe('first record is fine')
    expect(accepted.closes).toHaveLength(1)
    await atAlice.closed

    connection = 2
    const again = await alice.transport.dial(proxy.address)
    track(() => again.destroy())
    const second = record(await server.nextLink())
    again.write(text('back again'))
    expect((await second.waitForBytes(10)).toString()).toBe('back again')
  })

  it('refuses a record announcing more than the limit before reading it, and reads one at the limit', async () => {
    const cases = [
      { announced: RECORD_LIMIT + 1, refusedUnread: true },
      { announced: 0xff_ff_ff, refusedUnread: true },
      { announced: RECORD_LIMIT, refusedUnread: false },
    ]
    for (const { announced, refusedUnread } of cases) {
      const server = await accepting(secureNode().transport)
      const proxy = await rawProxy(server.address)
      const link = await secureNode().transport.dial(proxy.address)
      track(() => link.destroy())
      const accepted = record(await server.nextLink())
      // Below the encryption, straight into the dialer's stream of records: a length, then (for the
      // record at the limit) that many bytes, which cannot authenticate.
      const header = Buffer.alloc(3)
      header.writeUIntLE(announced, 0, 3)
      const upstream = proxy.connections[0]!.server
      upstream.write(header)
      if (!refusedUnread) upstream.write(Buffer.alloc(announced, 0x5a))
      const error = await accepted.closed
      expect(error, `a record of ${announced} bytes`).toMatchObject({
        code: 'CRYPTO',
        message: refusedUnread
          ? expect.stringContaining(`the limit is ${RECORD_LIMIT}`)
          : expect.stringContaining('did not authenticate'),
      })
    }
  })

  it('rejects a recorded session replayed at the listener, and delivers none of it', async () => {
    const refused = refusals()
    const bob = secureNode({ onRefused: refused.onRefused })
    const server = await accepting(bob.transport)
    const proxy = await rawProxy(server.address)
    const alice = secureNode()

    const link = await alice.transport.dial(proxy.address)
    const original = record(await server.nextLink())
    link.write(text('transfer 100 coins to mallory'))
    await original.waitForBytes(29)
    link.end()
    await original.closed

    const recorded = Buffer.concat(proxy.connections[0]!.captured['to-server'])
    const replay = await rawClient(server.address)
    replay.write(recorded)

    const report = await refused.next()
    expect(report.code).toBe('CRYPTO')
    expect(report.reason).toMatch(/secure handshake with .* failed: handshake message did not authenticate/)
    expect(server.accepted).toHaveLength(1)
  })

  it('puts neither message bodies nor names on the wire, in either direction', async () => {
    const bob = secureNode()
    const server = await accepting(bob.transport)
    const proxy = await rawProxy(server.address)
    const alice = secureNode()

    const link = await alice.transport.dial(proxy.address)
    track(() => link.destroy())
    const accepted = await server.nextLink()
    const atBob = record(accepted)
    const atAlice = record(link)
    const hello = JSON.stringify({ type: 'hello', name: 'alice-name-xyz' })
    const message = JSON.stringify({ type: 'msg', body: 'supersecretbody' })
    link.write(text(hello))
    link.write(text(message))
    accepted.write(text(JSON.stringify({ type: 'hello', name: 'bob-name-xyz' })))
    accepted.write(text(JSON.stringify({ type: 'msg', body: 'supersecretreply' })))
    await atBob.waitForBytes(hello.length + message.length)
    await atAlice.waitForBytes(10)
    expect(atBob.bytes().toString()).toContain('supersecretbody')

    const { captured } = proxy.connections[0]!
    for (const direction of ['to-server', 'to-client'] as const) {
      const wire = Buffer.concat(captured[direction])
      expect(wire.length).toBeGreaterThan(100)
      for (const secret of ['supersecret', 'name-xyz', 'alice', 'bob', 'hello', '"type"']) {
        expect(wire.includes(secret), `${secret} in ${direction}`).toBe(false)
      }
      // Every byte after TCP connect is a length-prefixed handshake message or record.
      const frames = new FrameSplitter().push(wire)
      expect(Buffer.concat(frames).length).toBe(wire.length)
    }
  })
})
