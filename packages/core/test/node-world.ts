/**
 * `ParleyNode`s over an in-memory network and a manual clock, for the node's tests: each node records what
 * it emits. Call `closeNodes` after each test (`afterEach(closeNodes)`).
 */
import type { Address } from '../src/address.js'
import type { Journal } from '../src/journal.js'
import { HERE_CAP, ROOM_CAP } from '../src/links.js'
import { ParleyNode } from '../src/node.js'
import type { NodeEvent, NodeOptions } from '../src/node-types.js'
import { fakeAuth } from './fake-auth.js'
import { ManualClock } from './manual-clock.js'
import { MemoryNetwork, seededRandom } from './memory-transport.js'
import { RawPeer } from './raw-peer.js'

type EventOf<T extends NodeEvent['type']> = Extract<NodeEvent, { type: T }>

/** Everything a node emitted, for assertions. */
export class Recorder {
  readonly events: NodeEvent[] = []

  constructor(node: ParleyNode) {
    node.on((event) => this.events.push(event))
  }

  of<T extends NodeEvent['type']>(type: T): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type)
  }

  bodies(): string[] {
    return this.of('message').map((m) => m.body)
  }
}

export interface TestNode {
  readonly node: ParleyNode
  readonly events: Recorder
}

const running: ParleyNode[] = []

/** Closes every node made since the last call. */
export async function closeNodes(): Promise<void> {
  await Promise.all(running.splice(0).map((n) => n.close('test over')))
}

/** A network, a clock (at `now`), and `node(name, listen, options)` making nodes on them. */
export function nodeWorld(options: ConstructorParameters<typeof MemoryNetwork>[0] = {}, now = 0) {
  const network = new MemoryNetwork(options)
  const clock = new ManualClock(now)
  const node = (name: string, listen: Address, extra: Partial<NodeOptions> = {}): TestNode => {
    const n = new ParleyNode({
      transport: network.transport(),
      clock,
      name,
      listen,
      random: () => 0.5,
      ...extra,
    })
    running.push(n)
    return { node: n, events: new Recorder(n) }
  }
  return { network, clock, node }
}

/** Where the nodes of a line alice—bob—carol listen, and their ids (alice's the lowest). */
export const A: Address = '127.0.0.1:4001'
export const B: Address = '127.0.0.1:4002'
export const C: Address = '127.0.0.1:4003'
export const ALICE = '1111111111111111'
export const BOB = '2222222222222222'
export const CAROL = '3333333333333333'

type World = Pick<ReturnType<typeof nodeWorld>, 'network' | 'clock'>

/**
 * A raw end from `host` with id `id`, dialed to `to`: it says hello (with `caps`), lets the node answer,
 * then sends its opening ack, which is still on its way (`await clock.advance(0)` delivers it).
 */
export async function rawNeighbour(
  w: World,
  to: Address,
  { host, id, name = 'raw', caps = [] }: { host: string; id: string; name?: string; caps?: string[] },
): Promise<RawPeer> {
  const peer = new RawPeer(await w.network.transport(host, id).dial(to))
  peer.hello(id, name, caps)
  await w.clock.advance(0)
  peer.send({ type: 'ack', upTo: 0, base: 0 })
  return peer
}

/** The ids `dialedByRawPeer` gives: the node the lower, so it decides the link. */
export const NODE_ID = '1111111111111111'
export const RAW_PEER_ID = 'eeeeeeeeeeeeeeee'

/**
 * Alice (signing, with a fake key) started `startAfterMs` into the world's time and linked to a raw relay
 * that takes the room and presence: what the relay sends stands for what other members wrote or said.
 */
export async function aliceBehindRawRelay(startAfterMs: number) {
  const w = nodeWorld()
  const alice = w.node('alice', A, { id: ALICE, auth: fakeAuth(ALICE), deadAfterMs: 3_600_000 })
  await w.clock.advance(startAfterMs)
  await alice.node.start()
  const raw = await rawNeighbour(w, A, { host: '127.0.0.9', id: RAW_PEER_ID, caps: [ROOM_CAP, HERE_CAP] })
  await w.clock.advance(10)
  return { w, alice, raw }
}

/** `name` (id `NODE_ID`) at `listen`, dialed by a raw peer (`RAW_PEER_ID`) past its handshake and opening ack. */
export async function dialedByRawPeer(name: string, listen: Address, extra: Partial<NodeOptions> = {}) {
  const { network, clock, node } = nodeWorld()
  const target = node(name, listen, { id: NODE_ID, ...extra })
  await target.node.start()
  const peer = await rawNeighbour({ network, clock }, listen, { host: '127.0.0.1', id: RAW_PEER_ID })
  await clock.advance(0)
  return { target, peer, clock }
}

/** Where `journaledAlice` listens. */
export const ALICE_AT: Address = '10.0.0.1:5000'

/**
 * `alice` (id `NODE_ID`) at `ALICE_AT` on a network of her own (random from `seed`), with `journal`, no rate
 * limit and `extra`: started, what she emits recorded in `events`. The caller closes her.
 */
export async function journaledAlice(journal: Journal, seed: number, extra: Partial<NodeOptions> = {}) {
  const network = new MemoryNetwork({ random: seededRandom(seed), maxHops: 2 })
  const clock = new ManualClock()
  const node = new ParleyNode({
    transport: network.transport(),
    clock,
    id: NODE_ID,
    name: 'alice',
    listen: ALICE_AT,
    journal,
    rateLimit: false,
    ...extra,
  })
  const events: NodeEvent[] = []
  node.on((e) => events.push(e))
  await node.start()
  return { network, clock, node, events }
}
