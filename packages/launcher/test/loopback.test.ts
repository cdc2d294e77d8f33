/** The runtime over real TCP on loopback: connect orders, late peers, simultaneous open, hostile peers. */
import { connect as tcpConnect } from 'node:net'
import { type Address, type Link, type NodeEvent, ParleyNode, type Transport } from '@parley/core'
import { freePort } from '@parley/testkit'
import { createTcpTransport, parseAddress } from '@parley/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'

const nodes: ParleyNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

/** How many links each node holds open (dialed or accepted, not yet closed), and how many dials failed. */
const openLinks = new WeakMap<ParleyNode, LinkCounter>()

interface LinkCounter {
  count: number
  failedDials: number
}

function countingLinks(inner: Transport, counter: LinkCounter): Transport {
  const wrap = (link: Link): Link => {
    counter.count++
    let open = true
    const closed = () => {
      if (open) counter.count--
      open = false
    }
    const attach = link.attach.bind(link)
    const destroy = link.destroy.bind(link)
    link.attach = (handlers) =>
      attach({
        ...handlers,
        close: (error) => {
          closed()
          handlers.close(error)
        },
      })
    link.destroy = () => {
      closed()
      destroy()
    }
    return link
  }
  return {
    createListener: (onLink) => inner.createListener((link) => onLink(wrap(link))),
    dial: async (address, options) => {
      try {
        return wrap(await inner.dial(address, options))
      } catch (error) {
        counter.failedDials++
        throw error
      }
    },
  }
}

function makeNode(name: string, listen: Address, peers: Address[] = [], seed = 1): ParleyNode {
  let state = seed
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31
  }
  const counter = { count: 0, failedDials: 0 }
  const transport = countingLinks(createTcpTransport(), counter)
  const node = new ParleyNode({ transport, name, listen, peers, random })
  openLinks.set(node, counter)
  nodes.push(node)
  return node
}

/** Resolves once `condition()` holds; the ceiling only catches a hang. */
async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function next<T extends NodeEvent['type']>(
  node: ParleyNode,
  type: T,
  match: (e: Extract<NodeEvent, { type: T }>) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<Extract<NodeEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`${node.name}: no ${type} event within ${timeoutMs} ms`))
    }, timeoutMs)
    const off = node.on((event) => {
      if (event.type === type && match(event as Extract<NodeEvent, { type: T }>)) {
        clearTimeout(timer)
        off()
        resolve(event as Extract<NodeEvent, { type: T }>)
      }
    })
  })
}

const local = (port: number): Address => `127.0.0.1:${port}`

describe('two nodes over loopback TCP', () => {
  it.each(['listener first', 'dialer first'])('connect and chat both ways (%s)', async (order) => {
    const [pa, pb] = [await freePort(), await freePort()]
    const alice = makeNode('alice', local(pa), [local(pb)])
    const bob = makeNode('bob', local(pb), [local(pa)])
    const [first, second] = order === 'listener first' ? [alice, bob] : [bob, alice]
    const connected = Promise.all([next(alice, 'connected'), next(bob, 'connected')])
    // The second starts once the first has dialed it and found nothing there.
    const failed = next(first, 'dial-error', (e) => e.code === 'CONNECTION_REFUSED')
    await first.start()
    await failed
    await second.start()
    await connected
    const toBob = next(bob, 'message')
    const toAlice = next(alice, 'message')
    alice.send('hi bob')
    bob.send('hi alice')
    expect((await toBob).body).toBe('hi bob')
    expect((await toBob).from.name).toBe('alice')
    expect((await toAlice).body).toBe('hi alice')
  })

  it('reaches a peer that comes up only after several failed dials and delivers what was typed meanwhile', async () => {
    const port = await freePort()
    const alice = makeNode('alice', local(0), [local(port)])
    await alice.start()
    alice.send('typed before bob was up')
    // Alice dialed bob's address three times and found nothing there: she is retrying, with backoff.
    await until(() => openLinks.get(alice)!.failedDials >= 3, 'three failed dials')
    expect(alice.pending).toBe(1)
    const bob = makeNode('bob', local(port))
    const received = next(bob, 'message')
    await bob.start()
    expect((await received).body).toBe('typed before bob was up')
    expect(await alice.whenDelivered(5_000)).toBe(0)
  })

  it('resolves a simultaneous open to one identical link on both sides, every time', async () => {
    for (let round = 0; round < 25; round++) {
      const [pa, pb] = [await freePort(), await freePort()]
      const alice = makeNode('alice', local(pa), [local(pb)], round + 1)
      const bob = makeNode('bob', local(pb), [local(pa)], round + 100)
      const connects = { alice: 0, bob: 0 }
      alice.on((e) => e.type === 'connected' && connects.alice++)
      bob.on((e) => e.type === 'connected' && connects.bob++)
      await Promise.all([alice.start(), bob.start()])
      await Promise.all([next(alice, 'connected'), next(bob, 'connected')])
      // Both dials connected: the losing link finishes its handshake and is refused, on both sides.
      await until(
        () => openLinks.get(alice)?.count === 1 && openLinks.get(bob)?.count === 1,
        `round ${round}: one link left on each side`,
      )
      const [a] = alice.sessionsSnapshot()
      const [b] = bob.sessionsSnapshot()
      expect(alice.sessionsSnapshot()).toHaveLength(1)
      expect(bob.sessionsSnapshot()).toHaveLength(1)
      expect(a?.connected && b?.connected).toBe(true)
      expect(a?.address).toBe(b?.localAddress)
      expect(b?.address).toBe(a?.localAddress)
      expect(connects).toEqual({ alice: 1, bob: 1 })
      const got = next(bob, 'message')
      alice.send(`round ${round}`)
      expect((await got).body).toBe(`round ${round}`)
      await Promise.all(nodes.splice(0).map((n) => n.close()))
    }
  }, 120_000)

  it('drops a garbage-sending peer with a clear error and keeps serving a good one', async () => {
    const bob = makeNode('bob', local(0))
    const { port } = parseAddress(await bob.start())
    const problems: string[] = []
    bob.on((e) => e.type === 'link-error' && problems.push(`${e.address} ${e.code}`))
    const garbage = tcpConnect(port, '127.0.0.1')
    garbage.on('error', () => undefined)
    await new Promise((r) => garbage.once('connect', r))
    garbage.write(Buffer.from([0, 0, 0, 5, 0xff, 0xfe, 0xfd, 0xfc, 0xfb]))
    const error = await next(bob, 'link-error')
    expect(error.code).toBe('BAD_UTF8')
    expect(error.address).toMatch(/^127\.0\.0\.1:\d+$/)
    const alice = makeNode('alice', local(0), [local(port)])
    await alice.start()
    const got = next(bob, 'message')
    alice.send('still serving?')
    expect((await got).body).toBe('still serving?')
    expect(problems).toHaveLength(1)
    garbage.destroy()
  })

  it('refuses a peer speaking another major protocol version, naming both versions', async () => {
    const bob = makeNode('bob', local(0))
    const { port } = parseAddress(await bob.start())
    const client = tcpConnect(port, '127.0.0.1')
    client.on('error', () => undefined)
    await new Promise((r) => client.once('connect', r))
    const hello = Buffer.from(
      JSON.stringify({ type: 'hello', v: '2.0', id: 'ab'.repeat(16), name: 'future', caps: [] }),
    )
    const header = Buffer.alloc(4)
    header.writeUInt32BE(hello.length)
    client.write(Buffer.concat([header, hello]))
    const error = await next(bob, 'link-error')
    expect(error.code).toBe('VERSION')
    expect(error.message).toMatch(/2\.0.*speaks 1\.\d+/)
    client.destroy()
  })

  it('reconnects after the peer restarts and resends what the peer missed', async () => {
    const port = await freePort()
    const alice = makeNode('alice', local(0), [local(port)])
    await alice.start()
    let bob = makeNode('bob', local(port))
    await bob.start()
    await next(alice, 'connected')
    await bob.close('restart')
    await next(alice, 'disconnected')
    alice.send('while you were away')
    bob = makeNode('bob', local(port))
    const got = next(bob, 'message')
    await bob.start()
    expect((await got).body).toBe('while you were away')
  })
})
