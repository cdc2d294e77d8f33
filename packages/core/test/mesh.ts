/** Many ParleyNodes on one in-memory network, wired in a chosen topology: the room's test bench. */
import type { Address } from '../src/address.js'
import { type JournalRecord, restore } from '../src/journal.js'
import { ParleyNode } from '../src/node.js'
import type { NodeEvent, NodeOptions } from '../src/node-types.js'
import type { MessageAuth } from '../src/room.js'
import { fakeAuth } from './fake-auth.js'
import { flushMicrotasks, ManualClock } from './manual-clock.js'
import { MemoryNetwork, type MemoryNetworkOptions, seededRandom } from './memory-transport.js'

export type Edge = readonly [number, number]

/** Who links to whom: edges between node indexes 0..n-1. */
export const topologies = {
  line: (n: number): Edge[] => Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as const),
  ring: (n: number): Edge[] => Array.from({ length: n }, (_, i) => [i, (i + 1) % n] as const),
  star: (n: number): Edge[] => Array.from({ length: n - 1 }, (_, i) => [0, i + 1] as const),
  /** A random spanning tree plus about n/2 extra edges: connected, with cycles. */
  random: (n: number, seed = 7): Edge[] => {
    const random = seededRandom(seed)
    const edges = new Map<string, Edge>()
    const add = (a: number, b: number) => {
      if (a === b) return
      const [x, y] = a < b ? [a, b] : [b, a]
      edges.set(`${x}-${y}`, [x, y])
    }
    for (let i = 1; i < n; i++) add(i, Math.floor(random() * i))
    for (let k = 0; k < Math.floor(n / 2); k++) add(Math.floor(random() * n), Math.floor(random() * n))
    return [...edges.values()]
  },
}

export interface MeshNode {
  readonly index: number
  node: ParleyNode
  readonly address: Address
  readonly events: NodeEvent[]
  readonly shown: Extract<NodeEvent, { type: 'message' }>[]
}

export interface MeshOptions {
  /** 'keys': fake signatures over links that prove keys (the secure path); 'unproven': signatures, but
   * no link proves a key, so every message is checked as relayed; 'none': no MessageAuth at all. */
  auth?: 'keys' | 'unproven' | 'none'
  network?: MemoryNetworkOptions
  node?: Partial<NodeOptions>
  seed?: number
}

/** Ids whose first 16 digits differ (the fake signatures name the signer by them). */
function idFor(index: number, seed: number): string {
  const random = seededRandom(seed * 1000 + index + 1)
  let id = index.toString(16).padStart(4, '0')
  while (id.length < 64) id += Math.floor(random() * 16).toString(16)
  return id
}

export class Mesh {
  readonly clock = new ManualClock()
  readonly network: MemoryNetwork
  readonly nodes: MeshNode[] = []
  /** Every node's journal, kept across restarts. */
  readonly journals: JournalRecord[][] = []

  constructor(
    readonly size: number,
    private readonly options: MeshOptions = {},
  ) {
    this.network = new MemoryNetwork(options.network ?? {})
  }

  async start(edges: readonly Edge[], waitForLinks = true): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      this.journals.push([])
      const events: NodeEvent[] = []
      const shown: MeshNode['shown'] = []
      const node = this.makeNode(i, events, shown)
      const address = await node.start()
      this.nodes.push({ index: i, node, address, events, shown })
    }
    for (const [a, b] of edges) this.link(a, b)
    if (waitForLinks) await this.until(() => this.linked(edges), 'every link up')
  }

  /** Closes node `index` and starts it again from its journal, on the same address, dialing `peers`. */
  async restart(index: number, peers: number[] = []): Promise<void> {
    const n = this.nodes[index]!
    await n.node.close('restart')
    n.node = this.makeNode(index, n.events, n.shown, true)
    await n.node.start()
    for (const p of peers) this.link(index, p)
  }

  private makeNode(i: number, events: NodeEvent[], shown: MeshNode['shown'], restored = false): ParleyNode {
    const mode = this.options.auth ?? 'keys'
    const id = idFor(i, this.options.seed ?? 1)
    const auth: MessageAuth | undefined = mode === 'none' ? undefined : fakeAuth(id)
    const journal = this.journals[i]!
    const name = this.options.node?.name ?? `n${i}`
    const node = new ParleyNode({
      transport: this.network.transport('127.0.0.1', mode === 'keys' ? id : undefined),
      clock: this.clock,
      name,
      id,
      listen: `127.0.0.1:${5000 + i}`,
      random: seededRandom(i + 1),
      ...(auth ? { auth } : {}),
      journal: {
        append: async (records) => {
          journal.push(...records)
        },
      },
      ...(restored
        ? { restored: restore(journal, { id, name }, 10_000, this.options.node?.windowSize) }
        : {}),
      ...this.options.node,
    })
    node.on((e) => {
      events.push(e)
      if (e.type === 'message') shown.push(e)
    })
    return node
  }

  /** Node `a` dials node `b` (and keeps redialing it). */
  link(a: number, b: number): void {
    this.nodes[a]!.node.connect(this.nodes[b]!.address)
  }

  linked(edges: readonly Edge[]): boolean {
    return edges.every(([a, b]) =>
      this.nodes[a]!.node.sessionsSnapshot().some((s) => s.connected && s.peer.id === this.nodes[b]!.node.id),
    )
  }

  /** Lets the network run (microtasks, in-memory dials, due timers) until `done`, or fails. */
  async until(done: () => boolean, what: string, rounds = 2_000): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      if (done()) return
      await this.clock.advance(i < 200 ? 0 : 50)
    }
    if (!done()) throw new Error(`mesh of ${this.size}: timed out waiting for ${what}`)
  }

  /** Every node sends `count` messages, `body(i, k)` each; resolves once they are all durable. */
  sendAll(count: number, body = (i: number, k: number) => `m${k} from n${i}`): void {
    for (const n of this.nodes) for (let k = 1; k <= count; k++) n.node.send(body(n.index, k))
  }

  /** What is wrong with what each node showed: missing, duplicated or out-of-order messages. */
  problems(count: number): string[] {
    const out: string[] = []
    for (const n of this.nodes) {
      const bySender = new Map<string, number[]>()
      for (const m of n.shown) {
        const seqs = bySender.get(m.from.id) ?? []
        seqs.push(m.seq)
        bySender.set(m.from.id, seqs)
      }
      for (const other of this.nodes) {
        if (other === n) continue
        const seqs = bySender.get(other.node.id) ?? []
        const want = Array.from({ length: count }, (_, k) => k + 1)
        if (seqs.join() !== want.join()) out.push(`n${n.index} showed [${seqs}] of n${other.index}`)
      }
      if (bySender.has(n.node.id)) out.push(`n${n.index} showed its own messages`)
    }
    return out
  }

  complete(count: number): boolean {
    return this.nodes.every((n) => n.shown.length >= count * (this.size - 1))
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.node.close('test over')))
    await flushMicrotasks()
  }

  addressOf(index: number): string {
    return this.nodes[index]!.address
  }
}
