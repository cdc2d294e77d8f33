/** The room over many in-memory nodes: every member shows every message once, in each sender's order. */
import { afterEach, describe, expect, it } from 'vitest'
import { seededRandom } from './memory-transport.js'
import { type Edge, Mesh, type MeshOptions, topologies } from './mesh.js'

const PER_NODE = 5
let mesh: Mesh | undefined
afterEach(async () => {
  await mesh?.close()
  mesh = undefined
})

async function run(size: number, edges: Edge[], options: MeshOptions = {}): Promise<Mesh> {
  mesh = new Mesh(size, options)
  await mesh.start(edges)
  mesh.sendAll(PER_NODE)
  const m = mesh
  await m.until(() => m.complete(PER_NODE), 'every message everywhere')
  // Anything extra (a duplicate) would show up by now.
  await m.clock.advance(1_000)
  return m
}

describe('one room across an in-memory mesh', () => {
  describe.each([10, 50])('%i nodes', (size) => {
    it.each(Object.keys(topologies) as (keyof typeof topologies)[])(
      'in a %s, every node shows every message exactly once, in per-sender order',
      async (shape) => {
        const m = await run(size, topologies[shape](size))
        expect(m.problems(PER_NODE)).toEqual([])
        for (const n of m.nodes) expect(n.events.filter((e) => e.type === 'link-error')).toEqual([])
      },
    )
  })

  it.each(['unproven', 'none'] as const)(
    'delivers the same way when links prove no keys (auth: %s)',
    async (auth) => {
      const m = await run(10, topologies.random(10, 3), { auth })
      expect(m.problems(PER_NODE)).toEqual([])
    },
  )

  it('delivers when links interleave their bytes at random', async () => {
    const random = seededRandom(99)
    const m = await run(10, topologies.random(10, 5), { network: { random, maxHops: 4 } })
    expect(m.problems(PER_NODE)).toEqual([])
  })

  it('delivers messages sent while the mesh is still forming', async () => {
    mesh = new Mesh(12)
    const m = mesh
    await m.start(topologies.random(12, 11), false)
    m.sendAll(PER_NODE)
    await m.until(() => m.complete(PER_NODE), 'every message everywhere')
    await m.clock.advance(1_000)
    expect(m.problems(PER_NODE)).toEqual([])
  })

  it.each([1, 2, 3, 4, 5, 6])(
    'delivers over random graphs with randomly interleaved links (seed %i)',
    async (seed) => {
      const random = seededRandom(seed * 7919)
      const m = await run(12, topologies.random(12, seed), { seed, network: { random, maxHops: 5 } })
      expect(m.problems(PER_NODE)).toEqual([])
    },
  )

  it('signs one message per burst, not every message', async () => {
    const m = await run(10, topologies.ring(10))
    const shown = m.nodes[1]!.shown.filter((e) => e.from.id === m.nodes[0]!.node.id)
    expect(shown).toHaveLength(PER_NODE)
    // Five messages sent in one tick travel as one burst: only the last carries a signature.
    const log = (
      m.nodes[1]!.node as unknown as { room: { logOf(id: string): { sig?: string }[] } }
    ).room.logOf(m.nodes[0]!.node.id)
    expect(log.map((msg) => msg.sig !== undefined)).toEqual([false, false, false, false, true])
  })
})

describe('members across the mesh', () => {
  it('announces a member first seen through a relay, and lists it as relayed', async () => {
    const m = await run(3, topologies.line(3))
    const [a, , c] = m.nodes
    // Known by its presence before any message of it: there now, so no `lastSent`.
    expect(c!.events.filter((e) => e.type === 'member' && e.via === 'relay')).toEqual([
      { type: 'member', peer: { id: a!.node.id, name: 'n0' }, via: 'relay' },
    ])
    expect(c!.node.members()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ peer: { id: a!.node.id, name: 'n0' }, direct: false, connected: true }),
        expect.objectContaining({
          peer: { id: m.nodes[1]!.node.id, name: 'n1' },
          direct: true,
          connected: true,
        }),
      ]),
    )
    expect(c!.shown.find((e) => e.from.id === a!.node.id)?.from.name).toBe('n0')
  })

  it('tells apart a relayed member that uses a neighbour’s name', async () => {
    mesh = new Mesh(3, { node: { name: 'sam' } })
    await mesh.start(topologies.line(3))
    mesh.nodes[0]!.node.send('hi from the first sam')
    const m = mesh
    await m.until(() => m.nodes[2]!.shown.length === 1, 'the message')
    const member = m.nodes[2]!.events.find((e) => e.type === 'member' && e.via === 'relay')
    // The neighbour that holds the name, and this node itself: all three are sam.
    expect(member).toMatchObject({ sameNameAs: [m.nodes[1]!.node.id, m.nodes[2]!.node.id] })
  })

  it('tells apart a neighbour that connects under this node’s own name, and only that one', async () => {
    mesh = new Mesh(2, { node: { name: 'alice' } })
    await mesh.start(topologies.line(2))
    const m = mesh
    for (const [at, other] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const connected = m.nodes[at]!.events.find((e) => e.type === 'connected')
      expect(connected).toMatchObject({ peer: { name: 'alice' }, sameNameAs: [m.nodes[at]!.node.id] })
      expect(connected).toMatchObject({ peer: { id: m.nodes[other]!.node.id } })
    }
  })

  it('finds no namesake when the names differ', async () => {
    mesh = new Mesh(2)
    await mesh.start(topologies.line(2))
    const connected = mesh.nodes[0]!.events.find((e) => e.type === 'connected')
    expect(connected).toBeDefined()
    expect(connected).not.toHaveProperty('sameNameAs')
  })
})

describe('catch-up across the mesh', () => {
  it('delivers what was sent while the middle of a line was cut off, once it is back, and only once', async () => {
    mesh = new Mesh(4)
    const m = mesh
    await m.start(topologies.line(4))
    // Node 1 dials node 2: refusing that address cuts the line in the middle, and only there.
    m.network.partition(m.nodes[2]!.address)
    await m.until(() => !m.linked([[1, 2]]), 'the split')
    m.nodes[0]!.node.send('left side')
    m.nodes[3]!.node.send('right side')
    await m.until(
      () => m.nodes[1]!.shown.length === 1 && m.nodes[2]!.shown.length === 1,
      'each side to chat internally',
    )
    expect(m.nodes[3]!.shown).toEqual([])
    m.network.heal(m.nodes[2]!.address)
    const bodies = () => m.nodes.map((n) => n.shown.map((e) => e.body).sort())
    await m.until(() => bodies()[0]!.length === 1 && bodies()[3]!.length === 1, 'the other side’s messages')
    await m.clock.advance(2_000)
    expect(bodies()).toEqual([
      ['right side'],
      ['left side', 'right side'],
      ['left side', 'right side'],
      ['left side'],
    ])
  })

  it('relays from its journal after a restart: a member that was away catches up from history', async () => {
    mesh = new Mesh(3)
    const m = mesh
    await m.start(topologies.line(3))
    // Node 1 dials node 2: refusing that address keeps node 2 away.
    m.network.partition(m.nodes[2]!.address)
    await m.until(() => !m.linked([[1, 2]]), 'node 2 to be away')
    for (const body of ['one', 'two', 'three']) m.nodes[0]!.node.send(body)
    await m.until(
      () => m.nodes[1]!.shown.length === 3 && m.nodes[0]!.node.pending === 0,
      'node 1 to have them',
    )
    // Node 0 is done with them (its only neighbour acked) and leaves: only node 1's journal has them.
    await m.nodes[0]!.node.close('gone')
    await m.restart(1, [2])
    m.network.heal(m.nodes[2]!.address)
    await m.until(() => m.nodes[2]!.shown.length === 3, 'node 2 to catch up from node 1’s history')
    await m.clock.advance(2_000)
    expect(m.nodes[2]!.shown.map((e) => e.body)).toEqual(['one', 'two', 'three'])
    // The restarted relay does not show them again.
    expect(m.nodes[1]!.shown.map((e) => e.body)).toEqual(['one', 'two', 'three'])
  })

  it('catches a member that joins later up on the window of each origin, its neighbour’s own included', async () => {
    mesh = new Mesh(4, { node: { windowSize: 3 } })
    const m = mesh
    await m.start(topologies.line(3))
    for (let k = 1; k <= 5; k++) m.nodes[0]!.node.send(`old ${k}`)
    m.nodes[2]!.node.send('from its neighbour')
    await m.until(
      () => m.nodes[2]!.shown.length === 5 && m.nodes[0]!.shown.length === 1,
      'the line to have them',
    )
    m.link(3, 2)
    await m.until(() => m.nodes[3]!.shown.length === 4, 'the newcomer to catch up')
    await m.clock.advance(2_000)
    expect(m.nodes[3]!.shown.map((e) => e.body).sort()).toEqual([
      'from its neighbour',
      'old 3',
      'old 4',
      'old 5',
    ])
  })
})
