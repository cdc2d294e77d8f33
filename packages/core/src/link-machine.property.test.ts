/**
 * Properties of the pure link machine under random event sequences: any mix of hellos (from the node
 * itself, from peers above and below it, from a key other than the authenticated one), accepts, chat
 * messages, byes, protocol errors, timeouts and closes, in any order.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { encodeFrame } from './codec.js'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import {
  DUPLICATE_REASON,
  type LinkContext,
  type LinkEffect,
  type LinkEvent,
  type LinkState,
  linkTransition,
  makeHello,
  newLinkState,
} from './link-machine.js'
import { type Message, messageSchemas } from './schema.js'

let cases = 0
const RUNS = { sequences: 20_000, model: 6_000 } as const
afterAll(() => {
  expect(cases).toBeGreaterThanOrEqual(RUNS.sequences + RUNS.model)
})

const IDS = ['1111111111111111', '8888888888888888', 'eeeeeeeeeeeeeeee', 'abcdefabcdefabcdef01'] as const
const id = fc.constantFrom(...IDS)
const instance = fc.constantFrom('i1', 'i2', '')
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const anyText = (max: number) => fc.string({ unit: codeUnit, maxLength: max })

const message: fc.Arbitrary<Message> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(id, instance, anyText(10))
      .map(([i, inst, name]) => makeHello({ id: i, name: name || 'x', instance: inst }, [])),
  },
  { weight: 3, arbitrary: fc.constant({ type: 'accept' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('msg' as const),
      id: fc.constant('m'),
      seq: fc.integer({ min: 1, max: 5 }),
      ts: fc.constant(0),
      from: id,
      body: anyText(5),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('ack' as const), upTo: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('ping' as const), n: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('pong' as const), n: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('throttle' as const), retryMs: fc.nat(1000) }) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(anyText(250), fc.constant(DUPLICATE_REASON))
      .map((reason) => ({ type: 'bye' as const, reason: reason.slice(0, 200) })),
  },
)

const event: fc.Arbitrary<LinkEvent> = fc.oneof(
  { weight: 12, arbitrary: message.map((m) => ({ type: 'received' as const, message: m })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...Object.values(ProtocolErrorCode)), anyText(400))
      .map(([code, text]) => ({ type: 'protocol-error' as const, error: new ProtocolError(code, text) })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'handshake-timeout' as const }) },
  { weight: 1, arbitrary: anyText(300).map((reason) => ({ type: 'close' as const, reason })) },
  {
    weight: 1,
    arbitrary: fc
      .option(anyText(20))
      .map((m) =>
        m === null
          ? { type: 'transport-closed' as const }
          : { type: 'transport-closed' as const, error: new Error(m) },
      ),
  },
)

const context = fc.tuple(id, fc.dictionary(id, instance, { maxKeys: 3 })).map(
  ([self, open]): LinkContext => ({
    self: { id: self },
    openSession: (peerId) => (peerId in open ? { instance: open[peerId]! } : undefined),
  }),
)

const ORDERLY = new Set(['DUPLICATE', 'BYE', 'LOCAL', 'TRANSPORT'])
const PROTOCOL_CODES = new Set<string>(Object.values(ProtocolErrorCode))

describe('link machine properties', () => {
  it('never throws, sends only valid frames, and ends a link exactly once, with a typed reason', () => {
    fc.assert(
      fc.property(
        context,
        fc.option(id, { nil: undefined }),
        fc.array(event, { maxLength: 10 }),
        (ctx, expectedId, events) => {
          cases++
          let state: LinkState = newLinkState(expectedId)
          let opens = 0
          let closes = 0
          for (const e of events) {
            const before = state
            const step = linkTransition(before, e, ctx)
            if (!step.ok) {
              expect(step.state).toBe(before)
              continue
            }
            expect(before.status).not.toBe('closed')
            state = step.state
            checkEffects(before, state, step.effects, e, ctx, expectedId)
            opens += step.effects.filter((f) => f.type === 'open').length
            closes += step.effects.filter((f) => f.type === 'close').length
          }
          expect(opens).toBeLessThanOrEqual(1)
          expect(closes).toBe(state.status === 'closed' ? 1 : 0)
        },
      ),
      { numRuns: RUNS.sequences },
    )
  })

  it('opens only after a hello from another node with the authenticated id, and an accept when this node is higher', () => {
    fc.assert(
      fc.property(
        context,
        fc.option(id, { nil: undefined }),
        fc.array(event, { maxLength: 8 }),
        (ctx, expectedId, events) => {
          cases++
          let state: LinkState = newLinkState(expectedId)
          let hello: { id: string } | undefined
          let accepted = false
          for (const e of events) {
            if (state.status === 'closed') break
            const wasAwaitingHello = state.status === 'awaiting-hello'
            const step = linkTransition(state, e, ctx)
            if (e.type === 'received' && wasAwaitingHello && e.message.type === 'hello') hello = e.message
            if (e.type === 'received' && hello && !wasAwaitingHello && e.message.type === 'accept')
              accepted = true
            state = step.state
            if (state.status === 'open') {
              expect(hello).toBeDefined()
              expect(hello!.id).not.toBe(ctx.self.id)
              if (expectedId !== undefined) expect(hello!.id).toBe(expectedId)
              if (ctx.self.id > hello!.id) expect(accepted).toBe(true)
              expect(state.peer.id).toBe(hello!.id)
            }
          }
        },
      ),
      { numRuns: RUNS.model },
    )
  })
})

function checkEffects(
  before: LinkState,
  after: LinkState,
  effects: readonly LinkEffect[],
  event: LinkEvent,
  ctx: LinkContext,
  expectedId: string | undefined,
): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'send':
        expect(messageSchemas().MessageSchema.safeParse(effect.message).success).toBe(true)
        expect(() => encodeFrame(effect.message)).not.toThrow()
        break
      case 'open':
        expect(before.status).not.toBe('open')
        expect(after.status).toBe('open')
        expect(effect.peer.id).not.toBe(ctx.self.id)
        if (expectedId !== undefined) expect(effect.peer.id).toBe(expectedId)
        break
      case 'deliver':
        expect(before.status).toBe('open')
        expect(['hello', 'accept', 'bye']).not.toContain(effect.message.type)
        break
      case 'close': {
        expect(after.status).toBe('closed')
        expect(effects.at(-1)).toBe(effect)
        expect(effects.at(-2)?.type).toBe('cancel-handshake-timer')
        const { code, protocolError } = effect.reason
        expect(ORDERLY.has(code) || PROTOCOL_CODES.has(code)).toBe(true)
        expect(protocolError).toBe(!ORDERLY.has(code))
        if (event.type === 'protocol-error') expect(code).toBe(event.error.code)
        if (event.type === 'handshake-timeout') expect(code).toBe('HANDSHAKE_TIMEOUT')
        break
      }
      case 'cancel-handshake-timer':
        break
      default: {
        const _exhaustive: never = effect
        throw new Error(`unexpected effect ${JSON.stringify(_exhaustive)}`)
      }
    }
  }
  if (after.status === 'closed') expect(effects.some((f) => f.type === 'close')).toBe(true)
  if (before.status === 'open') expect(after.status === 'open' || after.status === 'closed').toBe(true)
}
