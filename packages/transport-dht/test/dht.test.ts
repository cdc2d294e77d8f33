import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { generateKeyPair } from '@parley/secure'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { announcedNowhere } from '../src/announcement.js'
import { DhtError } from '../src/errors.js'
import { toDhtKeyPair } from '../src/keys.js'
import { createRoomCode, openRoom, parseRoomCode } from '../src/room-code.js'
import { type LocalTestnet, runBootstrapNode, runRelay } from '../src/servers.js'
import { startDhtTransport } from '../src/transport.js'
import { startScript } from './agent/run.js'
import { collect, createLocalTestnet, startNode, type TestNode } from './nodes.js'

let testnet: LocalTestnet
const nodes: TestNode[] = []
async function node(options: Parameters<typeof startNode>[1] = {}): Promise<TestNode> {
  const started = await startNode(testnet, options)
  nodes.push(started)
  return started
}

/** A bare DHT node of the test net, on loopback, with `extra` options; the caller destroys it. */
const bareDht = (extra: { firewalled?: boolean } = {}) =>
  new HyperDHT({ bootstrap: testnet.bootstrap, host: '127.0.0.1', port: [0, 0], ...extra })

beforeAll(async () => {
  testnet = await createLocalTestnet(3)
})

afterAll(async () => {
  for (const started of nodes) await started.transport.close()
  await testnet?.destroy()
})

describe('dial by key on a loopback DHT', () => {
  it('connects by key alone, both ways, and each side knows the other’s authenticated key', async () => {
    const alice = await node()
    const bob = await node()
    await alice.transport.listen()
    await bob.transport.listen()

    const outbound = await bob.transport.dial(alice.key)
    const inbound = await alice.nextLink()
    expect(outbound.remoteKey).toBe(alice.key)
    expect(inbound.remoteKey).toBe(bob.key)
    expect(outbound.direction).toBe('outbound')
    expect(inbound.direction).toBe('inbound')
    expect(outbound.purpose).toEqual({ kind: 'key' })
    expect(outbound.path).toMatchObject({ kind: 'holepunched', remoteHost: '127.0.0.1' })
    expect(outbound.remoteAddress).toBe(`dht:${alice.key}`)

    const atAlice = collect(inbound)
    const atBob = collect(outbound)
    outbound.write(Buffer.from('hello alice'))
    inbound.write(Buffer.from('hello bob'))
    expect((await atAlice.bytes(11)).toString()).toBe('hello alice')
    expect((await atBob.bytes(9)).toString()).toBe('hello bob')

    // The other way round: alice dials bob.
    const back = await alice.transport.dial(bob.key.toUpperCase())
    expect(back.remoteKey).toBe(bob.key)
    expect((await bob.nextLink()).remoteKey).toBe(alice.key)

    outbound.end()
    expect(await atAlice.closed).toBeUndefined()
  })

  it('asks the writer to wait, drains, and delivers every byte in order through a paused and resumed reader', async () => {
    const alice = await node()
    const bob = await node()
    await alice.transport.listen()
    const writer = await bob.transport.dial(alice.key)
    const reader = await alice.nextLink()
    const received = collect(reader)
    const sent = collect(writer)
    reader.pause()

    // Rounds of: write until the link asks us to wait, then wait for its drain. Each chunk is numbered.
    const chunkBytes = 16 * 1024
    const rounds = 8
    let chunks = 0
    for (let round = 0; round < rounds; round++) {
      let ok = true
      while (ok) ok = writer.write(Buffer.alloc(chunkBytes, chunks++ & 0xff))
      if (round === 0) reader.resume()
      await sent.drained()
    }
    const total = chunks * chunkBytes
    const bytes = await received.bytes(total)
    expect(bytes.byteLength).toBe(total)
    for (let i = 0; i < chunks; i++) {
      expect(bytes[i * chunkBytes]).toBe(i & 0xff)
      expect(bytes[(i + 1) * chunkBytes - 1]).toBe(i & 0xff)
    }
  })

  it('says PEER_NOT_FOUND with a hint when no node announces the key', async () => {
    const bob = await node()
    const nobody = HyperDHT.keyPair().publicKey.toString('hex')
    const error = await bob.transport.dial(nobody).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DhtError)
    expect((error as DhtError).code).toBe('PEER_NOT_FOUND')
    expect((error as DhtError).message).toContain('--dht')
  })

  it('takes its key off the DHT when it closes, in a room too: a dial after it is told PEER_NOT_FOUND', async () => {
    const alice = await node()
    await alice.transport.listen()
    await alice.transport.joinRoom(createRoomCode())
    const bob = await node()
    const link = await bob.transport.dial(alice.key)
    link.destroy()
    await alice.transport.close()
    const error = await bob.transport.dial(alice.key).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'PEER_NOT_FOUND' })
  })

  it('refuses a malformed key and its own key before touching the network', async () => {
    const bob = await node()
    await expect(bob.transport.dial('abc')).rejects.toMatchObject({ code: 'BAD_KEY' })
    await expect(bob.transport.dial(bob.key)).rejects.toMatchObject({ code: 'BAD_KEY' })
  })

  it('reports a cancelled dial as ABORTED, and every call on a closed transport as CLOSED', async () => {
    const bob = await node()
    const nobody = HyperDHT.keyPair().publicKey.toString('hex')
    await expect(bob.transport.dial(nobody, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    })
    await bob.transport.close()
    await bob.transport.close()
    await expect(bob.transport.dial(nobody)).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(bob.transport.listen()).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(bob.transport.joinRoom(createRoomCode())).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('closes the far end of every link when a transport closes', async () => {
    const alice = await node()
    const bob = await node()
    await alice.transport.listen()
    const outbound = await bob.transport.dial(alice.key)
    const atBob = collect(outbound)
    collect(await alice.nextLink())
    await alice.transport.close()
    await atBob.closed
  })

  it('refuses a connection that does not open with an admission, and one that floods its first record', async () => {
    const alice = await node()
    await alice.transport.listen()
    const dht = bareDht({ firewalled: false })
    try {
      for (const [first, why] of [
        [Buffer.alloc(34, 7), /does not speak/],
        [Buffer.alloc(100 * 1024, 7), /102400 bytes before saying/],
      ] as const) {
        const socket = dht.connect(Buffer.from(alice.key, 'hex'))
        socket.on('error', () => {})
        socket.write(first)
        const refusal = await alice.nextRefusal()
        expect(refusal.code).toBe('REFUSED')
        expect(refusal.message).toMatch(why)
        socket.destroy()
      }
      expect(alice.links).toHaveLength(0)
    } finally {
      await dht.destroy()
    }
  })

  it('words a dial whose UDP path stays silent as "it": the line names the key before it', async () => {
    // Shown as `cannot reach key [hctq-n5kt]: …`: the hex key again after it would name one key twice.
    const dht = bareDht({ firewalled: false })
    const silent = HyperDHT.keyPair()
    const server = dht.createServer({}, (socket) => socket.on('error', () => {}))
    try {
      await server.listen(silent)
      const bob = await node({ admissionTimeoutMs: 300 })
      const hex = silent.publicKey.toString('hex')
      const error = (await bob.transport.dial(hex).catch((e: unknown) => e)) as DhtError
      expect(error).toBeInstanceOf(DhtError)
      expect(error.code).toBe('TIMEOUT')
      expect(error.message).toMatch(/^no data came through from it within 300 ms; /)
      expect(error.message).not.toContain(hex.slice(0, 8))
    } finally {
      await server.close()
      await dht.destroy()
    }
  })

  it('does not accept a dial by key on a node that only joined a room', async () => {
    const roomOnly = await node()
    await roomOnly.transport.joinRoom(createRoomCode())
    const bob = await node()
    await expect(bob.transport.dial(roomOnly.key)).rejects.toBeInstanceOf(DhtError)
    expect((await roomOnly.nextRefusal()).code).toBe('REFUSED')
    expect(roomOnly.links).toHaveLength(0)
  })
})

describe('rooms on a loopback DHT', () => {
  it('lets two nodes with the same code meet, and keeps a node with another code out', async () => {
    const code = createRoomCode()
    const alice = await node()
    const bob = await node()
    const carol = await node()
    // The first to join is told nobody else is there yet; the second finds the first.
    expect(await alice.transport.joinRoom(code)).toMatchObject({ membersFound: 0, settled: true })
    expect(await bob.transport.joinRoom(code.toUpperCase())).toMatchObject({ membersFound: 1, settled: true })
    const [atAlice, atBob] = await Promise.all([alice.nextLink(), bob.nextLink()])
    expect(atAlice.remoteKey).toBe(bob.key)
    expect(atBob.remoteKey).toBe(alice.key)
    expect(atAlice.purpose).toEqual({ kind: 'room', code })

    const other = createRoomCode()
    expect((await carol.transport.joinRoom(other)).membersFound).toBe(0)
    await Promise.all([alice, bob, carol].map((n) => n.transport.flush()))
    expect(carol.links).toHaveLength(0)
    expect(alice.links.map((l) => l.remoteKey)).toEqual([bob.key])
  })

  it('lets members who join at the same moment meet: each joins before the other is stored, so each looks again', async () => {
    const code = createRoomCode()
    const [alice, bob] = await Promise.all([node(), node()])
    const [atAlice, atBob] = await Promise.all([alice.transport.joinRoom(code), bob.transport.joinRoom(code)])
    // Mostly neither finds the other while joining (on loopback, every time without the second lookup),
    // yet they meet.
    void atAlice
    void atBob
    const [aliceLink, bobLink] = await Promise.all([alice.nextLink(), bob.nextLink()])
    expect(aliceLink.remoteKey).toBe(bob.key)
    expect(bobLink.remoteKey).toBe(alice.key)
  })

  it('refuses a node that found the room’s topic on the DHT but does not know the code', async () => {
    const code = createRoomCode()
    const alice = await node()
    await alice.transport.joinRoom(code)

    // An observer who saw the topic joins it with plain Hyperswarm: it reaches alice but cannot prove the code.
    const dht = bareDht()
    const intruder = new Hyperswarm({ dht, keyPair: HyperDHT.keyPair() })
    try {
      intruder.on('connection', (socket) => {
        socket.on('error', () => {})
        socket.write(Buffer.alloc(34, 1))
      })
      intruder.join(openRoom(code).topic, { server: false, client: true })
      const refusal = await alice.nextRefusal()
      expect(refusal.code).toBe('REFUSED')
      expect(alice.links).toHaveLength(0)
    } finally {
      await intruder.destroy()
    }
  })

  it('announces only a keyed hash of the code: the secret, the code and their plain hashes never reach the DHT', async () => {
    const code = createRoomCode()
    const alice = await node()
    const room = await alice.transport.joinRoom(code)
    const secret = parseRoomCode(code)

    // What the DHT holds is alice under the room's topic…
    const probe = bareDht()
    try {
      const found: string[] = []
      for await (const reply of probe.lookup(room.topic)) {
        for (const peer of reply.peers) found.push(peer.publicKey.toString('hex'))
      }
      expect(found).toContain(alice.key)
      // …and the topic is none of the things an observer could recover the code from.
      for (const clear of [secret, Buffer.from(code), createHash('sha256').update(secret).digest()]) {
        expect(room.topic.includes(clear)).toBe(false)
        expect(room.topic.equals(createHash('sha256').update(clear).digest())).toBe(false)
      }
      expect(room.topic.equals(room.proofKey)).toBe(false)
    } finally {
      await probe.destroy()
    }
  })
})

describe('two nodes running with one key in a room', () => {
  it('a second connection from a key already linked is handed on beside the first, which stays open', async () => {
    const code = createRoomCode()
    const bob = await node()
    await bob.transport.joinRoom(code)
    const keyPair = generateKeyPair()
    const alice = await node({ keyPair })
    await alice.transport.joinRoom(code)
    const first = await bob.nextLink()
    const firstAtAlice = await alice.nextLink()
    const atBob = collect(first)
    const atAlice = collect(firstAtAlice)
    firstAtAlice.write(Buffer.from('one'))
    await atBob.bytes(3)
    first.write(Buffer.from('ack'))
    await atAlice.bytes(3)

    // A copy of alice's key joins: bob gets its link too, and keeps the first (Hyperswarm alone ended it).
    const copy = await node({ keyPair })
    await copy.transport.joinRoom(code)
    const second = await bob.nextLink()
    expect(second.remoteKey).toBe(alice.key)
    expect(second.direction).toBe('inbound')
    collect(second)
    // Bob turns the copy away; the copy holds back from bob for a while, and redials only after it.
    copy.transport.holdBack(bob.key, 3_000)
    expect(copy.transport.heldBack(bob.key)).toBe(true)
    second.destroy()
    const third = await bob.nextLink()
    expect(third.remoteKey).toBe(alice.key)
    // Not while the hold lasted: the copy dialed bob again only once it was over.
    expect(copy.transport.heldBack(bob.key)).toBe(false)
    // The first link carried on throughout.
    firstAtAlice.write(Buffer.from('two'))
    expect((await atBob.bytes(6)).toString()).toBe('onetwo')
    expect(await Promise.race([atBob.closed.then(() => 'closed'), Promise.resolve('open')])).toBe('open')
    collect(third)
    // Once the first link ends, the copy's link is the key's only one: it stays.
    first.destroy()
    await atBob.closed
    third.write(Buffer.from('still here'))
  })
})

describe('a dial whose UDP path stays silent', () => {
  it('does not suggest a relay for a key that linked directly earlier in this run', async () => {
    const keyPair = generateKeyPair()
    const alice = await node({ keyPair })
    await alice.transport.listen()
    const bob = await node({ admissionTimeoutMs: 300 })
    const link = await bob.transport.dial(alice.key)
    expect(link.path.kind).toBe('holepunched')
    await alice.transport.close()
    // Alice's key comes back silent (a process that accepts and never answers).
    const dht = bareDht({ firewalled: false })
    const server = dht.createServer({}, (socket) => socket.on('error', () => {}))
    try {
      await server.listen(toDhtKeyPair(keyPair))
      const error = (await bob.transport.dial(alice.key).catch((e: unknown) => e)) as DhtError
      expect(error.code).toBe('TIMEOUT')
      expect(error.message).toBe(
        'no data came through from it within 300 ms; it was reachable directly earlier in this run, and parley keeps trying',
      )
      expect(error.message).not.toMatch(/relay/)
    } finally {
      await server.close()
      await dht.destroy()
    }
  })
})

describe('the public-DHT guard', () => {
  it('is on in this test run', () => {
    expect(process.env.PARLEY_DHT_PRIVATE_ONLY).toBe('1')
  })

  it('refuses to start without bootstrap nodes, before opening any socket', async () => {
    const start = startDhtTransport({ keyPair: HyperDHT.keyPair(), onLink: () => {} })
    await expect(start).rejects.toMatchObject({ code: 'PUBLIC_BOOTSTRAP_REFUSED' })
    await expect(
      startDhtTransport({ keyPair: HyperDHT.keyPair(), bootstrap: [], onLink: () => {} }),
    ).rejects.toMatchObject({ code: 'PUBLIC_BOOTSTRAP_REFUSED' })
  })

  it('says BOOTSTRAP_UNREACHABLE with a hint when no bootstrap node answers', async () => {
    const silent = await createLocalTestnet(1)
    const [address] = silent.bootstrap
    await silent.destroy()
    const error = await startDhtTransport({
      keyPair: HyperDHT.keyPair(),
      bootstrap: [address!],
      host: '127.0.0.1',
      onLink: () => {},
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'BOOTSTRAP_UNREACHABLE' })
    expect((error as Error).message).toContain('--bootstrap')
  })

  it('stops at once when its signal aborts while a silent bootstrap node keeps it waiting', async () => {
    // A UDP port that takes every packet and answers none: the start would wait seconds for it.
    const silent = createSocket('udp4')
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
    try {
      const controller = new AbortController()
      const start = startDhtTransport({
        keyPair: HyperDHT.keyPair(),
        bootstrap: [{ host: '127.0.0.1', port: silent.address().port }],
        signal: controller.signal,
        onLink: () => {},
      }).catch((e: unknown) => e)
      // Abort once the start is under way: its first packet reached the silent node.
      await new Promise((resolve) => silent.once('message', resolve))
      controller.abort()
      // Without the signal it waited for the silent node, then failed with BOOTSTRAP_UNREACHABLE.
      const error = await start
      expect(error).toMatchObject({ code: 'ABORTED' })
    } finally {
      silent.close()
    }
  })
})

describe('bootstrap nodes', () => {
  it('a node leaves one that stopped answering out of its announces and lookups, asking those that answer', async () => {
    // A UDP port that takes every packet and answers none: a bootstrap node that is down.
    const silent = createSocket('udp4')
    const received: Buffer[] = []
    silent.on('message', (packet) => received.push(packet))
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
    try {
      const down = { host: '127.0.0.1', port: silent.address().port }
      const alice = await node({ bootstrap: [down, ...testnet.bootstrap] })
      const absent = HyperDHT.keyPair().publicKey
      await alice.transport.listen()
      await expect(alice.transport.dial(absent.toString('hex'))).rejects.toMatchObject({
        code: 'PEER_NOT_FOUND',
      })
      // A request carries its target in the clear: the silent node was asked neither to store alice's key
      // nor where the absent one is. Each such query waited for it to time out (6 s).
      for (const key of [Buffer.from(alice.key, 'hex'), absent])
        expect(received.some((packet) => packet.includes(HyperDHT.hash(key)))).toBe(false)
      expect(received.length).toBeGreaterThan(0)
    } finally {
      silent.close()
    }
  })

  it('take a port the OS picks when given port 0, and a node joins a DHT made of one of them', async () => {
    await expect(runBootstrapNode({ host: '127.0.0.1', port: 70_000 })).rejects.toMatchObject({
      code: 'BAD_BOOTSTRAP',
    })
    const bootstrap = await runBootstrapNode({ host: '127.0.0.1', port: 0 })
    try {
      expect(bootstrap.address.port).toBeGreaterThan(0)
      const joined = await startNode({ bootstrap: [bootstrap.address] })
      await joined.transport.close()
    } finally {
      await bootstrap.close()
    }
  })

  it.each(['0.0.0.0', 'localhost', '::1'])(
    'refuse %j, an address others cannot reach it at by its id, with BAD_BOOTSTRAP and an example',
    async (host) => {
      await expect(runBootstrapNode({ host, port: 0 })).rejects.toMatchObject({
        code: 'BAD_BOOTSTRAP',
        message: expect.stringContaining('198.51.100.10:49737'),
      })
    },
  )
})

describe('keeping the key announced', () => {
  const own = { host: '198.51.100.102', port: 40123 }
  const dhtNode = { host: '198.51.100.10', port: 49737 }
  const server = (relayAddresses: { host: string; port: number }[], listening = true) => ({
    listening,
    relayAddresses,
  })
  const at = { remoteAddress: () => own }

  it('announces again when the last announce reached no DHT node, behind a NAT or not', () => {
    // Behind a NAT the announcement names only the DHT nodes that took it; on a public address it names
    // that address first, and a dialer learns it only from those DHT nodes all the same.
    expect(announcedNowhere(server([]), at)).toBe(true)
    expect(announcedNowhere(server([own]), at)).toBe(true)
    expect(announcedNowhere(server([]), { remoteAddress: () => null })).toBe(true)
    expect(announcedNowhere(server([dhtNode]), at)).toBe(false)
    expect(announcedNowhere(server([own, dhtNode]), at)).toBe(false)
    // Not listening: nothing to do.
    expect(announcedNowhere(server([], false), at)).toBe(false)
  })

  it('lets a node that listened while the DHT nodes stalled be dialed by key once they answer again', async () => {
    // The DHT runs in a process of its own, so that it can stall (SIGSTOP) as on a loaded machine, and say
    // which announcements it stores once it goes on.
    const dhtNodes = startScript('testnet.mjs', [])
    const started: TestNode[] = []
    try {
      const { port } = await dhtNodes.event('ready')
      const stalling = { bootstrap: [{ host: '127.0.0.1', port: port as number }] }
      const alice = await startNode(stalling)
      started.push(alice)
      const bob = await startNode(stalling)
      started.push(bob)
      const target = HyperDHT.hash(Buffer.from(alice.key, 'hex')).toString('hex')
      const pid = dhtNodes.child.pid as number
      process.kill(pid, 'SIGSTOP')
      try {
        // Not firewalled (a loopback DHT): its announcement names its own address, and still reached nobody.
        expect(alice.transport.network().firewalled).toBe(false)
        await alice.transport.listen()
      } finally {
        process.kill(pid, 'SIGCONT')
      }
      const resumed = performance.now()
      await dhtNodes.event('announce', (event) => event.target === target)
      const link = await bob.transport.dial(alice.key)
      console.info(
        `stalled DHT: dialed by key ${Math.round(performance.now() - resumed)} ms after it went on`,
      )
      expect(link.remoteKey).toBe(alice.key)
      expect((await alice.nextLink()).remoteKey).toBe(bob.key)
    } finally {
      for (const each of started) await each.transport.close()
      await dhtNodes.stop()
    }
  })

  it('lets a relay whose start announced its key nowhere be reached by key once the DHT nodes answer', async () => {
    const dhtNodes = startScript('testnet.mjs', [])
    let relay: Awaited<ReturnType<typeof runRelay>> | undefined
    try {
      const { port } = await dhtNodes.event('ready')
      const bootstrap = [{ host: '127.0.0.1', port: port as number }]
      // The DHT nodes route and answer pings, but take no lookup and no announcement of a key.
      dhtNodes.child.stdin?.write('mute\n')
      await dhtNodes.event('mute')
      relay = await runRelay({ bootstrap, host: '127.0.0.1' })
      const target = HyperDHT.hash(Buffer.from(relay.publicKey, 'hex')).toString('hex')
      dhtNodes.child.stdin?.write('answer\n')
      await dhtNodes.event('answer')
      const answering = performance.now()
      await dhtNodes.event('announce', (event) => event.target === target)
      const reached = new HyperDHT({ bootstrap, host: '127.0.0.1', port: [0, 0] })
      try {
        const socket = reached.connect(Buffer.from(relay.publicKey, 'hex'))
        socket.on('error', () => {})
        await new Promise<void>((resolve, reject) => {
          socket.once('open', resolve)
          socket.once('close', () => reject(new Error('the relay was not reached by its key')))
        })
        console.info(
          `muted DHT: relay reached by key ${Math.round(performance.now() - answering)} ms after it answered`,
        )
        socket.destroy()
      } finally {
        await reached.destroy()
      }
    } finally {
      await relay?.close()
      await dhtNodes.stop()
    }
  })
})
