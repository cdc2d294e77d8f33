/**
 * What hostile neighbours make a node hold stays within its budgets: several remote ends complete the
 * handshake, then send random frames of the kinds that make a node hold something (out-of-order and
 * unverified messages of many sizes, acks naming many origins, false `bases` claims, copies for gaps,
 * reconnects), over the in-memory transport and a manual clock. After every step each link's account and
 * the total are within their budgets and add up; at the end the node still serves a good peer, and what
 * the hostile links held is released.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { flushMicrotasks } from '../test/manual-clock.js'
import { seededRandom } from '../test/memory-transport.js'
import { closeNodes, nodeWorld } from '../test/node-world.js'
import { RawPeer } from '../test/raw-peer.js'
import { encodeFrame } from './codec.js'
import { ProtocolErrorCode } from './errors.js'
import { makeHello } from './link-machine.js'
import type { LinkBudgets } from './link-table.js'
import type { ParleyNode } from './node.js'
import { Room } from './room.js'
import type { Message, Msg } from './schema.js'

const NODE_ID = '8888888888888888'
const GOOD_ID = 'cccccccccccccccc'
const NODE_AT = '127.0.0.1:5000'
const GOOD_AT = '127.0.0.1:5001'
/** Higher than the node's id, so the node sends `accept` and the hostile end only has to say hello. */
const HOSTILE_IDS = [
  'f100000000000000',
  'f200000000000000',
  'f300000000000000',
  'f400000000000000',
  'f500000000000000',
]
const BUDGETS: LinkBudgets = {
  buffered: 24_000,
  watermarks: 40 * 160,
  total: 60_000,
  catchUp: {
    perKey: { perSecond: 2_000, burst: 8_000 },
    perSource: { perSecond: 3_000, burst: 12_000 },
    total: { perSecond: 4_000, burst: 16_000 },
  },
}
const MAX_NEIGHBORS = 4

const originId = (n: number) => `a${n.toString(16).padStart(15, '0')}`
/** A real origin's chain (in bursts of three, the last of each signed), so some hostile copies check out. */
const CHAIN_ORIGIN = 'abcdefabcdefabcd'
const chain: Msg[] = (() => {
  const room = new Room({ self: { id: CHAIN_ORIGIN, name: 'chained' }, auth: fakeAuth(CHAIN_ORIGIN) })
  const out: Msg[] = []
  for (let burst = 0; burst < 10; burst++) {
    for (let i = 0; i < 3; i++)
      room.compose({ id: `c${burst}-${i}`, ts: burst, body: `chained ${burst}.${i}` })
    out.push(...room.seal())
  }
  return out
})()

const entries = (count: number, start: number, seq: number) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [originId(start + i), seq]))

const frame: fc.Arbitrary<Message> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        origin: fc.nat(5),
        seq: fc.integer({ min: 1, max: 60 }),
        size: fc.constantFrom(0, 10, 500, 3_000, 9_000),
        prev: fc.boolean(),
        sig: fc.boolean(),
      })
      .map(
        ({ origin, seq, size, prev, sig }): Msg => ({
          type: 'msg',
          id: `m${seq}`,
          seq,
          ts: seq,
          from: originId(origin),
          body: 'x'.repeat(size),
          ...(prev ? { prev: 'p'.repeat(64) } : {}),
          ...(sig ? { sig: 's'.repeat(64) } : {}),
        }),
      ),
  },
  { weight: 3, arbitrary: fc.nat(chain.length - 1).map((i) => chain[i]!) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        haves: fc.integer({ min: 0, max: 256 }),
        bases: fc.integer({ min: 0, max: 40 }),
        start: fc.nat(2_000),
        seq: fc.integer({ min: 1, max: 50 }),
        chainBase: fc.option(fc.integer({ min: 1, max: 29 }), { nil: undefined }),
      })
      .map(({ haves, bases, start, seq, chainBase }) => ({
        type: 'ack' as const,
        upTo: 0,
        have: entries(haves, start, seq),
        bases: { ...entries(bases, start + 7, seq), ...(chainBase ? { [CHAIN_ORIGIN]: chainBase } : {}) },
      })),
  },
)

type Action =
  | { kind: 'send'; peer: number; frames: Message[] }
  | { kind: 'advance'; ms: number }
  | { kind: 'close'; peer: number }
  | { kind: 'join'; peer: number }

const peer = fc.nat(HOSTILE_IDS.length - 1)
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      peer,
      frames: fc.array(frame, { minLength: 1, maxLength: 12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(0, 5, 500) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), peer }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('join' as const), peer }) },
)

function expectWithinBudgets(node: ParleyNode): void {
  const held = node.held()
  let sum = 0
  for (const link of held.links) {
    expect(link.buffered).toBeLessThanOrEqual(BUDGETS.buffered)
    expect(link.watermarks).toBeLessThanOrEqual(BUDGETS.watermarks)
    expect(link.buffered).toBeGreaterThanOrEqual(0)
    expect(link.watermarks).toBeGreaterThanOrEqual(0)
    sum += link.buffered + link.watermarks
  }
  expect(held.total).toBe(sum)
  expect(held.total).toBeLessThanOrEqual(BUDGETS.total)
  expect(held.links.length).toBeLessThanOrEqual(MAX_NEIGHBORS)
}

describe('ParleyNode against hostile neighbours', () => {
  it('keeps every link’s account and the total within budget, never throws, and keeps serving', async () => {
    /** How often each refusal happened over all runs, so the runs are known to reach the budgets. */
    const seen = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.boolean(),
        fc.array(action, { minLength: 1, maxLength: 24 }),
        async (seed, signed, actions) => {
          const { network, clock, node: make } = nodeWorld({ random: seededRandom(seed), maxHops: 2 })
          const { node, events: recorded } = make('node', NODE_AT, {
            id: NODE_ID,
            rateLimit: false,
            budgets: BUDGETS,
            maxNeighbors: MAX_NEIGHBORS,
            ...(signed ? { auth: fakeAuth(NODE_ID) } : {}),
          })
          const events = recorded.events
          const { node: good, events: goodRecorded } = make('good', GOOD_AT, {
            id: GOOD_ID,
            peers: [NODE_AT],
            // Over a transport that proves no key, its messages are checked as relayed ones are.
            ...(signed ? { auth: fakeAuth(GOOD_ID) } : {}),
          })
          const goodEvents = goodRecorded.events
          let thrown: unknown
          const guard = (error: unknown) => {
            thrown ??= error
          }
          process.on('uncaughtException', guard)
          try {
            await node.start()
            await good.start()
            for (let i = 0; i < 20 && !goodEvents.some((e) => e.type === 'connected'); i++)
              await clock.advance(10)
            const peers: (RawPeer | undefined)[] = []
            const join = async (i: number) => {
              peers[i]?.link.destroy()
              const raw = await RawPeer.dial(network, NODE_AT, `10.0.0.${i + 1}`)
              raw.send(
                makeHello({ id: HOSTILE_IDS[i]!, name: `hostile${i}`, instance: `h${seed}` }, ['room']),
              )
              raw.send({ type: 'ack', upTo: 0, base: 0 })
              peers[i] = raw
            }
            for (let i = 0; i < HOSTILE_IDS.length; i++) await join(i)
            await flushMicrotasks(4)
            for (const a of actions) {
              if (a.kind === 'send') for (const f of a.frames) peers[a.peer]?.write(encodeFrame(f))
              else if (a.kind === 'advance') await clock.advance(a.ms)
              else if (a.kind === 'close') peers[a.peer]?.link.end()
              else await join(a.peer)
              await flushMicrotasks(3)
              expectWithinBudgets(node)
            }
            for (const p of peers) p?.link.destroy()
            await clock.advance(2_500)
            expectWithinBudgets(node)
            // Only the good peer's link is left, holding what it holds (nothing it was not sent).
            expect(node.held().links.map((l) => l.peer)).toEqual([GOOD_ID])
            const codes = new Set<string>(Object.values(ProtocolErrorCode))
            for (const e of events)
              if (e.type === 'link-error') expect(codes.has(e.code) || e.code === 'TOO_MANY').toBe(true)
            good.send(`still here ${seed}`)
            for (
              let i = 0;
              i < 40 && !events.some((e) => e.type === 'message' && e.body === `still here ${seed}`);
              i++
            )
              await clock.advance(50)
            expect(events).toContainEqual(
              expect.objectContaining({ type: 'message', body: `still here ${seed}` }),
            )
            expect(thrown).toBeUndefined()
            for (const e of events) if (e.type === 'link-error') seen.set(e.code, (seen.get(e.code) ?? 0) + 1)
            const hostile = events.filter((e) => e.type === 'connected' && e.peer.id !== GOOD_ID).length
            seen.set('connected', (seen.get('connected') ?? 0) + hostile)
          } finally {
            process.off('uncaughtException', guard)
            await closeNodes()
          }
        },
      ),
      { numRuns: 300, seed: 20261202 },
    )
    for (const code of ['connected', 'OVER_BUDGET', 'TOO_MANY_NEIGHBORS'])
      expect(seen.get(code) ?? 0, code).toBeGreaterThan(20)
    expect(seen.get('FORGED') ?? 0).toBeGreaterThan(0)
  }, 240_000)
})
