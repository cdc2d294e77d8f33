/** The room over real loopback TCP and secure links, with real signatures: what the CLI runs, in one process. */
import { type NodeEvent, ParleyNode } from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair } from '@parley/secure'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it, vi } from 'vitest'

const nodes: ParleyNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

function member(name: string) {
  const keyPair = generateKeyPair()
  const shown: Extract<NodeEvent, { type: 'message' }>[] = []
  const errors: NodeEvent[] = []
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    auth: createMessageAuth(keyPair),
    id: Buffer.from(keyPair.publicKey).toString('hex'),
    name,
    listen: '127.0.0.1:0',
  })
  node.on((e) => {
    if (e.type === 'message') shown.push(e)
    if (e.type === 'link-error') errors.push(e)
  })
  nodes.push(node)
  return { node, shown, errors }
}

describe('a room of ten parley nodes over secure loopback links', () => {
  it('shows every message on every node exactly once, in per-sender order, across a ring with a chord', async () => {
    const members = Array.from({ length: 10 }, (_, i) => member(`m${i}`))
    const addresses = await Promise.all(members.map((m) => m.node.start()))
    const edges = [...members.map((_, i) => [i, (i + 1) % 10] as const), [0, 5] as const]
    for (const [a, b] of edges) members[a]!.node.connect(addresses[b]!)
    await vi.waitFor(
      () => {
        for (const [a, b] of edges) {
          const up = members[a]!.node.sessionsSnapshot().filter((s) => s.connected)
          expect(up.map((s) => s.peer.id)).toContain(members[b]!.node.id)
        }
      },
      { timeout: 60_000, interval: 20 },
    )
    for (const m of members) for (let k = 1; k <= 5; k++) m.node.send(`${m.node.name} #${k}`)
    await vi.waitFor(() => expect(members.every((m) => m.shown.length >= 45)).toBe(true), {
      timeout: 30_000,
      interval: 20,
    })
    // Each member's next line floods the ring as the first five did, after them on every link it takes: once
    // every node shows all of them, a second copy of any earlier line written meanwhile has arrived too.
    for (const m of members) m.node.send(`${m.node.name} last`)
    const hasLast = (m: (typeof members)[number], from: (typeof members)[number]) =>
      m === from || m.shown.some((e) => e.from.id === from.node.id && e.body === `${from.node.name} last`)
    await vi.waitFor(() => expect(members.every((m) => members.every((o) => hasLast(m, o)))).toBe(true), {
      timeout: 30_000,
      interval: 20,
    })
    for (const m of members) {
      expect(m.shown).toHaveLength(54)
      expect(m.errors).toEqual([])
      for (const other of members) {
        if (other === m) continue
        const bodies = m.shown.filter((e) => e.from.id === other.node.id).map((e) => e.body)
        expect(bodies).toEqual(['#1', '#2', '#3', '#4', '#5', 'last'].map((k) => `${other.node.name} ${k}`))
      }
    }
    // A member reached only through relays is listed as such, with the name it signed.
    expect(members[2]!.node.members()).toContainEqual(
      expect.objectContaining({ peer: { id: members[7]!.node.id, name: 'm7' }, direct: false }),
    )
  })
})
