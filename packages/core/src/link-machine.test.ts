import { describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder } from './codec.js'
import { ProtocolError } from './errors.js'
import {
  DUPLICATE_REASON,
  helloInstance,
  initialLinkState,
  type LinkContext,
  type LinkEffect,
  type LinkEvent,
  type LinkState,
  linkTransition,
  makeHello,
} from './link-machine.js'
import { type Hello, type Message, messageSchemas, PROTOCOL_VERSION } from './schema.js'

const LOW = '1111111111111111'
const HIGH = 'eeeeeeeeeeeeeeee'

/** A node `selfId` whose open sessions are `open` (peer id → instance). */
function context(selfId: string, open: Record<string, string> = {}): LinkContext {
  return {
    self: { id: selfId },
    openSession: (peerId) => (peerId in open ? { instance: open[peerId]! } : undefined),
  }
}

function helloFrom(id: string, instance = 'inst-1', name = 'peer'): Hello {
  return makeHello({ id, name, instance }, [])
}

const received = (message: Message): LinkEvent => ({ type: 'received', message })

function run(state: LinkState, ctx: LinkContext, ...events: LinkEvent[]) {
  let step = linkTransition(state, events[0]!, ctx)
  for (const event of events.slice(1)) {
    expect(step.ok).toBe(true)
    step = linkTransition(step.state, event, ctx)
  }
  return step
}

const cancelTimer: LinkEffect = { type: 'cancel-handshake-timer' }
const send = (message: Message): LinkEffect => ({ type: 'send', message })

const lowPeer = { id: LOW, name: 'peer' }
const highPeer = { id: HIGH, name: 'peer' }
const awaitingAccept: LinkState = { status: 'awaiting-accept', peer: lowPeer, instance: 'inst-1' }
const open: LinkState = { status: 'open', peer: highPeer, instance: 'inst-1' }

const chatMessages: Message[] = [
  { type: 'msg', id: 'm1', seq: 1, ts: 0, from: HIGH, body: 'hi' },
  { type: 'ack', upTo: 1 },
  { type: 'ping', n: 1 },
  { type: 'pong', n: 1 },
]

describe('hello', () => {
  it('announces the protocol version, the process instance and the listen address', () => {
    const hello = makeHello({ id: LOW, name: 'alice', instance: 'abc' }, ['emoji'], '127.0.0.1:4001')
    expect(hello).toEqual({
      type: 'hello',
      v: PROTOCOL_VERSION,
      id: LOW,
      name: 'alice',
      caps: ['instance:abc', 'emoji'],
      listen: '127.0.0.1:4001',
    })
    expect(helloInstance(hello)).toBe('abc')
  })

  it('leaves out the listen address when there is none, and reads a missing instance as empty', () => {
    const hello = makeHello({ id: LOW, name: 'alice', instance: 'abc' }, [])
    expect(hello).not.toHaveProperty('listen')
    expect(helloInstance({ ...hello, caps: ['emoji'] })).toBe('')
  })
})

describe('linkTransition: the handshake', () => {
  it('starts waiting for the peer’s hello', () => {
    expect(initialLinkState).toEqual({ status: 'awaiting-hello' })
  })

  it('opens at once on the node with the lower id, and tells the peer with accept', () => {
    const step = linkTransition(initialLinkState, received(helloFrom(HIGH)), context(LOW))
    expect(step).toEqual({
      ok: true,
      state: { status: 'open', peer: highPeer, instance: 'inst-1' },
      effects: [cancelTimer, send({ type: 'accept' }), { type: 'open', peer: highPeer, instance: 'inst-1' }],
    })
  })

  it('waits for accept on the node with the higher id, then opens', () => {
    const ctx = context(HIGH)
    const first = linkTransition(initialLinkState, received(helloFrom(LOW)), ctx)
    expect(first).toEqual({ ok: true, state: awaitingAccept, effects: [] })
    const second = linkTransition(first.state, received({ type: 'accept' }), ctx)
    expect(second).toEqual({
      ok: true,
      state: { status: 'open', peer: lowPeer, instance: 'inst-1' },
      effects: [cancelTimer, { type: 'open', peer: lowPeer, instance: 'inst-1' }],
    })
  })

  it('closes a second link from the same peer process with bye "duplicate link"', () => {
    const step = linkTransition(
      initialLinkState,
      received(helloFrom(HIGH, 'inst-1')),
      context(LOW, { [HIGH]: 'inst-1' }),
    )
    const reason = { code: 'DUPLICATE', message: expect.any(String), protocolError: false }
    expect(step).toEqual({
      ok: true,
      state: { status: 'closed', reason },
      effects: [send({ type: 'bye', reason: DUPLICATE_REASON }), cancelTimer, { type: 'close', reason }],
    })
  })

  it('accepts a new link from a peer that restarted (same id, new instance) while its old session looks open', () => {
    const step = linkTransition(
      initialLinkState,
      received(helloFrom(HIGH, 'inst-2')),
      context(LOW, { [HIGH]: 'inst-1' }),
    )
    expect(step.state).toEqual({ status: 'open', peer: highPeer, instance: 'inst-2' })
    expect(step.ok && step.effects).toContainEqual({ type: 'open', peer: highPeer, instance: 'inst-2' })
  })

  it('leaves duplicate resolution to the lower id: the higher id waits for accept even with a session open', () => {
    const step = linkTransition(
      initialLinkState,
      received(helloFrom(LOW, 'inst-1')),
      context(HIGH, { [LOW]: 'inst-1' }),
    )
    expect(step).toEqual({ ok: true, state: awaitingAccept, effects: [] })
  })

  it('reads bye "duplicate link" as DUPLICATE on the side that waited for accept', () => {
    const step = linkTransition(
      awaitingAccept,
      received({ type: 'bye', reason: DUPLICATE_REASON }),
      context(HIGH),
    )
    expect(step.state).toEqual({
      status: 'closed',
      reason: { code: 'DUPLICATE', message: DUPLICATE_REASON, protocolError: false },
    })
  })

  it('refuses a link to itself with SELF, saying why before closing', () => {
    const step = linkTransition(initialLinkState, received(helloFrom(LOW)), context(LOW))
    expect(step.ok).toBe(true)
    expect(step.state).toMatchObject({ status: 'closed', reason: { code: 'SELF', protocolError: true } })
    if (step.ok) {
      expect(step.effects[0]).toMatchObject({ type: 'send', message: { type: 'bye' } })
      expect(step.effects.at(-1)).toMatchObject({ type: 'close', reason: { code: 'SELF' } })
    }
  })

  it.each([{ type: 'accept' } as Message, ...chatMessages].map((m) => [m.type, m] as const))(
    'refuses "%s" before hello with NO_HELLO',
    (_, message) => {
      const step = linkTransition(initialLinkState, received(message), context(LOW))
      expect(step.state).toMatchObject({
        status: 'closed',
        reason: { code: 'NO_HELLO', protocolError: true },
      })
      expect(step.ok && step.effects.map((e) => e.type)).toEqual(['send', 'cancel-handshake-timer', 'close'])
    },
  )

  it.each([helloFrom(LOW), ...chatMessages].map((m) => [m.type, m] as const))(
    'refuses "%s" while waiting for accept with UNEXPECTED',
    (_, message) => {
      const step = linkTransition(awaitingAccept, received(message), context(HIGH))
      expect(step.state).toMatchObject({
        status: 'closed',
        reason: { code: 'UNEXPECTED', protocolError: true },
      })
    },
  )

  it.each([
    ['hello', helloFrom(HIGH)],
    ['accept', { type: 'accept' }],
  ] as const)('refuses a second "%s" after the handshake with UNEXPECTED', (_, message) => {
    const step = linkTransition(open, received(message), context(LOW))
    expect(step.state).toMatchObject({
      status: 'closed',
      reason: { code: 'UNEXPECTED', protocolError: true },
    })
  })

  it.each([
    ['awaiting hello', initialLinkState],
    ['awaiting accept', awaitingAccept],
  ] as const)(
    'drops a link still %s when the handshake times out, with HANDSHAKE_TIMEOUT and a bye',
    (_, state) => {
      const step = linkTransition(state, { type: 'handshake-timeout' }, context(HIGH))
      expect(step.state).toMatchObject({
        status: 'closed',
        reason: { code: 'HANDSHAKE_TIMEOUT', protocolError: true },
      })
      expect(step.ok && step.effects[0]).toMatchObject({ type: 'send', message: { type: 'bye' } })
    },
  )

  it('ignores a handshake timeout that fires after the link opened', () => {
    const step = linkTransition(open, { type: 'handshake-timeout' }, context(LOW))
    expect(step.ok).toBe(false)
    expect(step.state).toBe(open)
  })
})

describe('linkTransition: an open link', () => {
  it.each(chatMessages.map((m) => [m.type, m] as const))('hands "%s" to the session', (_, message) => {
    expect(linkTransition(open, received(message), context(LOW))).toEqual({
      ok: true,
      state: open,
      effects: [{ type: 'deliver', message }],
    })
  })

  it('runs a whole handshake and chat from both ends', () => {
    const lowSide = run(
      initialLinkState,
      context(LOW),
      received(helloFrom(HIGH)),
      received(chatMessages[0]!),
      received({ type: 'bye', reason: 'quit' }),
    )
    expect(lowSide.state).toMatchObject({ status: 'closed', reason: { code: 'BYE', message: 'quit' } })
    const highSide = run(
      initialLinkState,
      context(HIGH),
      received(helloFrom(LOW)),
      received({ type: 'accept' }),
    )
    expect(highSide.state.status).toBe('open')
  })
})

describe('linkTransition: closing', () => {
  const notClosed = [
    ['awaiting hello', initialLinkState],
    ['awaiting accept', awaitingAccept],
    ['open', open],
  ] as const

  it.each(notClosed)('closes with BYE when the peer says bye while %s, without answering it', (_, state) => {
    const step = linkTransition(state, received({ type: 'bye', reason: 'gotta go' }), context(HIGH))
    const reason = { code: 'BYE', message: 'gotta go', protocolError: false }
    expect(step).toEqual({
      ok: true,
      state: { status: 'closed', reason },
      effects: [cancelTimer, { type: 'close', reason }],
    })
  })

  it.each(notClosed)('closes with DUPLICATE when the bye says "duplicate link" while %s', (_, state) => {
    const step = linkTransition(state, received({ type: 'bye', reason: DUPLICATE_REASON }), context(HIGH))
    expect(step.state).toMatchObject({
      status: 'closed',
      reason: { code: 'DUPLICATE', protocolError: false },
    })
  })

  it.each(notClosed)(
    'on a protocol error while %s, sends bye with the reason and code first, then closes',
    (_, state) => {
      const error = new ProtocolError('BAD_JSON', 'frame body is not valid JSON')
      const step = linkTransition(state, { type: 'protocol-error', error }, context(HIGH))
      const reason = { code: 'BAD_JSON', message: error.message, protocolError: true }
      expect(step).toEqual({
        ok: true,
        state: { status: 'closed', reason },
        effects: [
          send({ type: 'bye', reason: error.message, code: 'BAD_JSON' }),
          cancelTimer,
          { type: 'close', reason },
        ],
      })
    },
  )

  it('keeps the code a bye gave, so a refusal can be told apart from leaving', () => {
    const step = linkTransition(
      open,
      received({ type: 'bye', reason: 'your messages fill my disk', code: 'OVER_QUOTA' }),
      context(HIGH),
    )
    expect(step.state).toEqual({
      status: 'closed',
      reason: {
        code: 'BYE',
        message: 'your messages fill my disk',
        protocolError: false,
        remoteCode: 'OVER_QUOTA',
      },
    })
  })

  it('cuts a long protocol error message down to a bye the peer will accept', () => {
    const error = new ProtocolError('BAD_MESSAGE', 'x'.repeat(500))
    const step = linkTransition(open, { type: 'protocol-error', error }, context(LOW))
    const bye = step.ok ? step.effects.find((e) => e.type === 'send') : undefined
    expect(bye).toBeDefined()
    expect(messageSchemas().ByeSchema.safeParse((bye as { message: unknown }).message).success).toBe(true)
  })

  it.each(notClosed)(
    'on a local close while %s, says bye with the reason, then closes as LOCAL',
    (_, state) => {
      const step = linkTransition(state, { type: 'close', reason: 'quit' }, context(HIGH))
      const reason = { code: 'LOCAL', message: 'quit', protocolError: false }
      expect(step).toEqual({
        ok: true,
        state: { status: 'closed', reason },
        effects: [send({ type: 'bye', reason: 'quit' }), cancelTimer, { type: 'close', reason }],
      })
    },
  )

  it('keeps the bye of a local close valid when the reason is longer than a bye allows', () => {
    const step = linkTransition(open, { type: 'close', reason: 'r'.repeat(300) }, context(LOW))
    const bye = step.ok ? step.effects.find((e) => e.type === 'send') : undefined
    expect(bye).toBeDefined()
    expect(messageSchemas().ByeSchema.safeParse((bye as { message: unknown }).message).success).toBe(true)
  })

  it.each<[string, LinkEvent]>([
    ['a local close', { type: 'close', reason: `${'r'.repeat(199)}\u{1F600} and more` }],
    [
      'a protocol error',
      {
        type: 'protocol-error',
        error: new ProtocolError('BAD_MESSAGE', `${'r'.repeat(199)}\u{1F600} and more`),
      },
    ],
  ])('cuts the reason of the bye of %s before an emoji at the limit, not inside it', (_, event) => {
    const step = linkTransition(open, event, context(LOW))
    const sent = step.ok ? step.effects.find((e) => e.type === 'send') : undefined
    const bye = (sent as { message: Message & { type: 'bye' } }).message
    expect(bye).toMatchObject({ type: 'bye', reason: 'r'.repeat(199) })
    // Well-formed text: it goes through UTF-8 and back unchanged, as every runtime reads it.
    expect(new TextDecoder().decode(new TextEncoder().encode(bye.reason))).toBe(bye.reason)
    // Taken alike by the hand checks and the zod schema, after a trip through a frame.
    const [onWire] = new FrameDecoder().push(encodeFrame(bye)).messages
    expect(onWire).toEqual(bye)
    expect(messageSchemas().ByeSchema.parse(bye)).toEqual(onWire)
  })

  it.each(notClosed)(
    'closes as TRANSPORT without a bye when the connection goes away while %s',
    (_, state) => {
      const plain = linkTransition(state, { type: 'transport-closed' }, context(HIGH))
      const reason = { code: 'TRANSPORT', message: 'connection closed', protocolError: false }
      expect(plain).toEqual({
        ok: true,
        state: { status: 'closed', reason },
        effects: [cancelTimer, { type: 'close', reason }],
      })
      const reset = linkTransition(
        state,
        { type: 'transport-closed', error: new Error('ECONNRESET') },
        context(HIGH),
      )
      expect(reset.state).toMatchObject({ reason: { code: 'TRANSPORT', message: 'ECONNRESET' } })
    },
  )

  const closed: LinkState = {
    status: 'closed',
    reason: { code: 'BYE', message: 'quit', protocolError: false },
  }
  it.each<[string, LinkEvent]>([
    ['a hello', received(helloFrom(HIGH))],
    ['a msg', received(chatMessages[0]!)],
    ['a bye', received({ type: 'bye', reason: 'again' })],
    ['a protocol error', { type: 'protocol-error', error: new ProtocolError('BAD_JSON', 'x') }],
    ['a handshake timeout', { type: 'handshake-timeout' }],
    ['a local close', { type: 'close', reason: 'quit' }],
    ['the transport closing', { type: 'transport-closed' }],
  ])('rejects %s once the link is closed', (_, event) => {
    const step = linkTransition(closed, event, context(LOW))
    expect(step.ok).toBe(false)
    expect(step.state).toBe(closed)
    if (!step.ok) expect(step.reason).toContain('while closed')
  })
})
