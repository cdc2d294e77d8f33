import { describe, expect, it } from 'vitest'
import { flushMicrotasks, ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import type { Address } from './address.js'
import { messagesOf, type NodeEvent } from './node-types.js'
import { DEFAULT_HISTORY_LIMIT } from './persistence.js'
import { ENCRYPTED_NODE_REPLY, PlainNode, type PlainNodeOptions } from './plain-node.js'
import type { Link } from './transport.js'

const A: Address = '127.0.0.1:5001'
const B: Address = '127.0.0.1:5002'
const text = (s: string) => new TextEncoder().encode(s)

function setup() {
  const network = new MemoryNetwork()
  const clock = new ManualClock()
  const make = (listen: Address, peers: Address[] = [], extra: Partial<PlainNodeOptions> = {}) => {
    const node = new PlainNode({
      transport: network.transport(),
      clock,
      name: 'me',
      listen,
      peers,
      random: () => 0.5,
      ...extra,
    })
    const events: NodeEvent[] = []
    node.on((e) => events.push(e))
    return { node, events, bodies: () => events.flatMap((e) => (e.type === 'message' ? [e.body] : [])) }
  }
  /** A raw text client, like netcat, connected to `to` (from `host`, for per-host limits). */
  const raw = async (to: Address, host?: string) => {
    const link: Link = await network.transport(host).dial(to)
    const got: string[] = []
    let closed = false
    link.attach({
      data: (chunk) => got.push(new TextDecoder().decode(chunk)),
      drain: () => undefined,
      close: () => {
        closed = true
      },
    })
    return { link, received: () => got.join(''), chunks: () => [...got], closed: () => closed }
  }
  return { network, clock, make, raw }
}

/**
 * An encrypted parley node at `address`, as a plain node meets it: it answers text with its one line,
 * reads nothing more, and closes. `dials` counts the links it was given.
 */
async function encryptedNode(network: MemoryNetwork, address: Address) {
  const counted = { dials: 0 }
  const listener = network.transport().createListener((link) => {
    counted.dials++
    let answered = false
    link.attach({
      data: () => {
        if (answered) return
        answered = true
        link.write(text(ENCRYPTED_NODE_REPLY))
        link.end()
      },
      drain: () => undefined,
      close: () => undefined,
    })
  })
  await listener.listen(address)
  return counted
}

describe('PlainNode: newline-separated text, for netcat and friends', () => {
  it('turns each line from a raw client into a message, including CRLF lines and a split line', async () => {
    const { make, raw } = setup()
    const a = make(A)
    await a.node.start()
    const nc = await raw(A)
    nc.link.write(text('hello\r\nsplit '))
    nc.link.write(text('line\n'))
    await flushMicrotasks()
    expect(a.bodies()).toEqual(['hello', 'split line'])
    const message = a.events.find((e) => e.type === 'message')
    expect(message?.type === 'message' && message.from.name).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('on /disconnect of an address it never reached, stops dialing it and keeps the link it has', async () => {
    const { make, raw, clock } = setup()
    const dead: Address = '127.0.0.1:5999'
    const a = make(A, [dead])
    await a.node.start()
    // A netcat user dials in: the slot still dialing the dead address stands on that first link.
    const nc = await raw(A)
    await clock.advance(0)
    expect(a.node.disconnect(dead)).toBe(true)
    await clock.advance(60_000)
    expect(nc.closed()).toBe(false)
    expect(a.node.peerStates()).toEqual([])
    a.node.send('still here')
    await flushMicrotasks()
    expect(nc.received()).toBe('still here\n')
    expect(a.node.disconnect(dead)).toBe(false)
  })

  it('on /disconnect of an address it reached, closes the link its own dial made', async () => {
    const { make, clock } = setup()
    const b = make(B)
    await b.node.start()
    const a = make(A, [B])
    await a.node.start()
    await clock.advance(100)
    expect(a.events.some((e) => e.type === 'connected')).toBe(true)
    expect(a.node.disconnect(B)).toBe(true)
    await clock.advance(100)
    expect(a.events.some((e) => e.type === 'disconnected')).toBe(true)
    // Nothing redials it.
    await clock.advance(60_000)
    expect(a.events.filter((e) => e.type === 'connected')).toHaveLength(1)
  })

  it('writes each sent message as a line to every open link', async () => {
    const { make, raw } = setup()
    const a = make(A)
    await a.node.start()
    const one = await raw(A)
    const two = await raw(A)
    await flushMicrotasks()
    a.node.send('to everyone')
    await flushMicrotasks()
    expect(one.received()).toBe('to everyone\n')
    expect(two.received()).toBe('to everyone\n')
  })

  it('writes the parts of a line sent in parts (more) as one line: its line end comes with the last part', async () => {
    const { make, raw } = setup()
    const a = make(A)
    await a.node.start()
    const peer = await raw(A)
    await flushMicrotasks()
    a.node.send('x'.repeat(10), { more: true })
    a.node.send('y'.repeat(10), { more: true })
    a.node.send('z')
    a.node.send('next')
    await flushMicrotasks()
    expect(peer.received()).toBe(`${'x'.repeat(10)}${'y'.repeat(10)}z\nnext\n`)
    expect(a.node.history.map((h) => h.body)).toEqual(['x'.repeat(10), 'y'.repeat(10), 'z', 'next'])
  })

  it('queues lines typed before any link exists and sends them when the first one opens', async () => {
    const { make, clock } = setup()
    const a = make(A, [B])
    await a.node.start()
    a.node.send('early')
    expect(a.node.pending).toBe(1)
    const b = make(B)
    await b.node.start()
    await clock.advance(2_000)
    expect(b.bodies()).toEqual(['early'])
    expect(await a.node.whenDelivered(10)).toBe(0)
  })

  it('keeps the peer when it closes one of two links, and redials only once every link is gone', async () => {
    const { make, raw, network, clock } = setup()
    const a = make(A, [B])
    // The raw peer listens at B: parley's dial lands here; it also dials parley.
    const accepted: Link[] = []
    await new Promise<Address>((resolve) =>
      network
        .transport()
        .createListener((link) => {
          link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
          accepted.push(link)
        })
        .listen(B)
        .then(resolve),
    )
    await a.node.start()
    const inbound = await raw(A)
    await clock.advance(0)
    expect(accepted).toHaveLength(1)
    // The raw peer keeps the link it dialed and closes the one parley dialed.
    accepted[0]!.destroy()
    await flushMicrotasks()
    expect(a.node.peerStates()[0]?.state.status).toBe('connected')
    a.node.send('still there?')
    await flushMicrotasks()
    expect(inbound.received()).toBe('still there?\n')
    inbound.link.destroy()
    await flushMicrotasks()
    expect(a.node.peerStates()[0]?.state.status).toBe('reconnecting')
  })

  it('keeps the link it dialed when the raw peer dialed too and closes its own, even if that dial lands first', async () => {
    const { raw, network, clock } = setup()
    // Parley's dial to B reaches the raw peer, but parley only learns so once `release` is called: the
    // raw peer's own dial to parley lands in between, as it does on a loaded machine.
    let release = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const inner = network.transport()
    const slowDialer = {
      ...inner,
      dial: async (...args: Parameters<typeof inner.dial>) => {
        const link = await inner.dial(...args)
        await released
        return link
      },
    }
    const accepted: Link[] = []
    const rawGot: string[] = []
    let keptClosed = false
    await network
      .transport()
      .createListener((link) => {
        link.attach({
          data: (c) => rawGot.push(new TextDecoder().decode(c)),
          drain: () => undefined,
          close: () => {
            keptClosed = true
          },
        })
        accepted.push(link)
      })
      .listen(B)
    const node = new PlainNode({
      transport: slowDialer,
      clock,
      name: 'me',
      listen: A,
      peers: [B],
      random: () => 0.5,
    })
    const events: NodeEvent[] = []
    node.on((e) => events.push(e))
    await node.start()
    await flushMicrotasks()
    expect(accepted).toHaveLength(1)
    // The raw peer keeps the link it accepted and closes the one it dialed, right after dialing it.
    const own = await raw(A)
    await flushMicrotasks()
    expect(node.peerStates()[0]?.state.status).toBe('connected')
    release()
    await flushMicrotasks()
    own.link.destroy()
    await clock.advance(5_000)
    expect(keptClosed).toBe(false)
    expect(node.peerStates()[0]?.state.status).toBe('connected')
    node.send('still there?')
    await flushMicrotasks()
    expect(rawGot.join('')).toBe('still there?\n')
    expect(
      events.filter((e) => e.type === 'peer-state').map((e) => e.type === 'peer-state' && e.state.status),
    ).toEqual(['connecting', 'connected'])
    expect(network.openLinkCount()).toBe(1)
    await node.close()
  })

  it('stops a dial it kept going when it closes', async () => {
    const { network, clock } = setup()
    let dials = 0
    const inner = network.transport()
    const hanging = {
      ...inner,
      dial: (_to: Address, options?: { signal?: AbortSignal }) => {
        dials++
        return new Promise<Link>((_resolve, reject) =>
          options?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
        )
      },
    }
    const node = new PlainNode({ transport: hanging, clock, name: 'me', listen: A, peers: [B] })
    await node.start()
    const inbound = await network.transport().dial(A)
    inbound.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
    await flushMicrotasks()
    expect(node.peerStates()[0]?.state.status).toBe('connected')
    // The peer leaves: the redial waits for the dial still in flight instead of starting a second one.
    inbound.destroy()
    await clock.advance(5_000)
    expect(dials).toBe(1)
    expect(node.peerStates()[0]?.state.status).toBe('reconnecting')
    await node.close()
    expect(node.peerStates()[0]?.state.status).toBe('closed')
  })

  it('refuses a peer that opens with binary bytes, naming it as a parley node without --plain', async () => {
    const { make, raw } = setup()
    const a = make(A)
    await a.node.start()
    const secure = await raw(A)
    secure.link.write(new Uint8Array([0x20, 0x00, 0x00, 0x01, 0x99, 0x00]))
    await flushMicrotasks()
    const error = a.events.find((e) => e.type === 'link-error')
    expect(error).toMatchObject({ type: 'link-error', code: 'NOT_PLAIN' })
    expect(error?.type === 'link-error' && error.message).toMatch(/without --plain/)
    expect(a.bodies()).toEqual([])
  })

  it('gives up on a dialed address that answers as an encrypted parley node, and counts the lines it read none of', async () => {
    const { make, network, clock } = setup()
    const encrypted = await encryptedNode(network, B)
    const a = make(A, [B])
    await a.node.start()
    await clock.advance(100)
    a.node.sendLines(['one', 'two'])
    await clock.advance(100)
    const gaveUp = a.events.find((e) => e.type === 'dial-error')
    expect(gaveUp).toMatchObject({ type: 'dial-error', target: B, code: 'ENCRYPTED_PEER' })
    expect(gaveUp?.type === 'dial-error' && gaveUp.message).toMatch(
      /^it is an encrypted parley node, which reads no plain text: it read none of the 2 line\(s\) written to it; run parley without --plain/,
    )
    // The answer is not a message, and the address is not dialed again.
    expect(a.bodies()).toEqual([])
    expect(a.node.peerStates()).toEqual([])
    await clock.advance(60_000)
    expect(encrypted.dials).toBe(1)
    expect(await a.node.finishSending(1_000)).toBe(2)
  })

  it('takes the answer for an ordinary line from a link it did not dial, or when more follows it', async () => {
    const { make, raw, network, clock } = setup()
    const a = make(A)
    await a.node.start()
    // A netcat user who dialed in and types the words, first or later: lines like any other.
    const nc = await raw(A)
    nc.link.write(text(`${ENCRYPTED_NODE_REPLY}hello\n${ENCRYPTED_NODE_REPLY}`))
    await flushMicrotasks()
    expect(a.bodies()).toEqual([ENCRYPTED_NODE_REPLY.trimEnd(), 'hello', ENCRYPTED_NODE_REPLY.trimEnd()])
    // A listener this node dials, where a person types the words and then more: shown too, still dialed.
    const person = network.transport().createListener((link) => {
      link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
      link.write(text(ENCRYPTED_NODE_REPLY))
      link.write(text('just kidding\n'))
    })
    await person.listen(B)
    a.node.connect(B)
    await clock.advance(100)
    expect(a.bodies().slice(3)).toEqual([ENCRYPTED_NODE_REPLY.trimEnd(), 'just kidding'])
    expect(a.events.some((e) => e.type === 'dial-error')).toBe(false)
    expect(a.node.peerStates()).toEqual([
      { target: B, state: expect.objectContaining({ status: 'connected' }) },
    ])
  })

  it('counts a line lost only when no link took it: two encrypted nodes lose it once, a netcat peer beside one keeps it', async () => {
    const { make, network, clock, raw } = setup()
    const C: Address = '127.0.0.1:5003'
    await encryptedNode(network, B)
    await encryptedNode(network, C)
    const two = make(A, [B, C])
    await two.node.start()
    await clock.advance(100)
    two.node.sendLines(['one', 'two', 'three'])
    await clock.advance(100)
    expect(two.events.filter((e) => e.type === 'dial-error')).toHaveLength(2)
    expect(await two.node.finishSending(1_000)).toBe(3)
    await two.node.close()

    const D: Address = '127.0.0.1:5004'
    const mixed = make(D, [B])
    await mixed.node.start()
    const nc = await raw(D)
    await clock.advance(100)
    mixed.node.sendLines(['read by netcat'])
    await clock.advance(100)
    expect(mixed.events.filter((e) => e.type === 'dial-error')).toHaveLength(1)
    expect(nc.received()).toBe('read by netcat\n')
    expect(await mixed.node.finishSending(1_000)).toBe(0)
  })

  it('ends its links when sending is finished, and resolves once each peer has closed in turn', async () => {
    const { make, raw, clock } = setup()
    const a = make(A)
    await a.node.start()
    const nc = await raw(A)
    await flushMicrotasks()
    a.node.sendLines(['last words'])
    let finished: number | undefined
    void a.node.finishSending(10_000).then((lost) => {
      finished = lost
    })
    await clock.advance(100)
    expect(nc.received()).toBe('last words\n')
    expect(nc.closed()).toBe(true)
    expect(finished).toBe(0)
    // Closed as asked: no disconnect to report, and nothing written after it.
    expect(a.events.some((e) => e.type === 'disconnected')).toBe(false)
    a.node.send('too late')
    await flushMicrotasks()
    expect(nc.received()).toBe('last words\n')
  })

  it('takes a first line with a bell or another control character as text, not as a secure node', async () => {
    const { make, raw } = setup()
    const a = make(A)
    await a.node.start()
    const nc = await raw(A)
    nc.link.write(text('hello plain\nred\u0007 bell\u0002\nok\n'))
    await flushMicrotasks()
    expect(a.bodies()).toEqual(['hello plain', 'red\u0007 bell\u0002', 'ok'])
    expect(a.events.some((e) => e.type === 'link-error')).toBe(false)
  })

  it('refuses connections past its caps with a line saying why, and keeps chatting with the rest', async () => {
    const { network, raw } = setup()
    const node = new PlainNode({
      transport: network.transport(),
      name: 'me',
      listen: A,
      maxInbound: 3,
      maxInboundPerHost: 2,
    })
    const events: NodeEvent[] = []
    node.on((e) => events.push(e))
    await node.start()
    const first = await raw(A, '10.0.0.1')
    await raw(A, '10.0.0.1')
    const third = await raw(A, '10.0.0.1')
    await raw(A, '10.0.0.2')
    const fifth = await raw(A, '10.0.0.3')
    await flushMicrotasks()
    expect(third.closed()).toBe(true)
    expect(third.received()).toBe('parley: too many connections from 10.0.0.1 (limit 2); refused\n')
    expect(fifth.closed()).toBe(true)
    expect(fifth.received()).toBe('parley: too many connections (limit 3); refused\n')
    expect(
      events.filter((e) => e.type === 'link-error').map((e) => e.type === 'link-error' && e.code),
    ).toEqual(['TOO_MANY', 'TOO_MANY'])
    first.link.write(text('still here\n'))
    await flushMicrotasks()
    expect(events.flatMap((e) => (e.type === 'message' ? [e.body] : []))).toEqual(['still here'])
    await node.close()
  })

  it('takes an endless line in parts of at most maxLine, each saying the line goes on, holding no more', async () => {
    const { network, clock } = setup()
    const node = new PlainNode({ transport: network.transport(), clock, name: 'me', listen: A, maxLine: 100 })
    const events: NodeEvent[] = []
    node.on((e) => events.push(e))
    await node.start()
    const link = await network.transport().dial(A)
    link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
    for (let i = 0; i < 10; i++) link.write(text('x'.repeat(150)))
    await flushMicrotasks()
    const parts = events.flatMap(messagesOf)
    // 1,500 characters so far: 14 parts of 100 went, the last 100 wait for more of the line.
    expect(parts.map((m) => [m.body.length, m.more])).toEqual(Array(14).fill([100, true]))
    expect(node.sessionsSnapshot()).toHaveLength(1)
    link.write(text('end\r\nnext\n'))
    await flushMicrotasks()
    const all = events.flatMap(messagesOf)
    // The 100 held and the line's end, 103 in all: one more part, then the end as a line.
    expect(all.slice(14).map((m) => [m.body, m.more])).toEqual([
      ['x'.repeat(100), true],
      ['end', undefined],
      ['next', undefined],
    ])
    expect(all.map((m) => m.body).join('')).toBe(`${'x'.repeat(1500)}endnext`)
    await node.close()
  })

  it('takes a line past the bound inside one read in parts, between the whole lines around it, in order', async () => {
    for (const runs of [false, true]) {
      const { network, clock } = setup()
      const node = new PlainNode({
        transport: network.transport(),
        clock,
        name: 'me',
        listen: A,
        maxLine: 100,
        runs,
      })
      const events: NodeEvent[] = []
      node.on((e) => events.push(e))
      await node.start()
      const link = await network.transport().dial(A)
      link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
      // A surrogate pair across the bound stays whole: the part before it is one shorter, and the
      // emoji counts the four bytes it takes.
      const long = `${'x'.repeat(99)}\u{1f600}${'y'.repeat(150)}`
      link.write(text(`before\n${long}\r\nafter\nunfinished`))
      await flushMicrotasks()
      const messages = events.flatMap(messagesOf)
      expect(messages.map((m) => [m.body, m.more ?? false])).toEqual([
        ['before', false],
        ['x'.repeat(99), true],
        [`\u{1f600}${'y'.repeat(96)}`, true],
        ['y'.repeat(54), false],
        ['after', false],
      ])
      expect(messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5])
      expect(node.history.map((h) => [h.body.length, h.more ?? false])).toEqual([
        [6, false],
        [99, true],
        [98, true],
        [54, false],
        [5, false],
      ])
      expect(node.sessionsSnapshot()).toHaveLength(1)
      await node.close()
    }
  })

  it('bounds a line in bytes, as --max-frame counts them, not in characters', async () => {
    const { network, clock } = setup()
    const node = new PlainNode({ transport: network.transport(), clock, name: 'me', listen: A, maxLine: 100 })
    const events: NodeEvent[] = []
    node.on((e) => events.push(e))
    await node.start()
    const link = await network.transport().dial(A)
    link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
    // 40 characters of three bytes each (120 bytes), then 100 bytes exactly, then 101 in two-byte ones.
    link.write(text(`${'€'.repeat(40)}\n${'x'.repeat(100)}\n${'é'.repeat(50)}x\n`))
    await flushMicrotasks()
    const messages = events.flatMap(messagesOf)
    expect(messages.map((m) => [m.body, m.more ?? false])).toEqual([
      ['€'.repeat(33), true],
      ['€'.repeat(7), false],
      ['x'.repeat(100), false],
      ['é'.repeat(50), true],
      ['x', false],
    ])
    for (const m of messages) expect(new TextEncoder().encode(m.body).length).toBeLessThanOrEqual(100)
    await node.close()
  })

  it('counts a line dripped a byte at a time as it counts one read whole, characters split across reads included', async () => {
    const input = `${'€'.repeat(40)}\n${'x'.repeat(100)}\n${'é'.repeat(50)}x\n${'€'.repeat(70)}y\u{1f600}${'z'.repeat(90)}`
    const parts = async (chunks: Uint8Array[]) => {
      const { network, clock } = setup()
      const node = new PlainNode({
        transport: network.transport(),
        clock,
        name: 'me',
        listen: A,
        maxLine: 100,
      })
      const events: NodeEvent[] = []
      node.on((e) => events.push(e))
      await node.start()
      const link = await network.transport().dial(A)
      link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
      for (const chunk of chunks) {
        link.write(chunk)
        await flushMicrotasks()
      }
      const messages = events.flatMap(messagesOf).map((m) => [m.body, m.more ?? false])
      await node.close()
      return messages
    }
    const bytes = text(input)
    const whole = await parts([bytes])
    const dripped = await parts(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))
    expect(dripped).toEqual(whole)
    // The line still coming was taken in parts as soon as it passed the bound, whichever way it came; the
    // rest of it (at most the bound) waits for its end.
    expect(whole.slice(-3)).toEqual([
      ['€'.repeat(33), true],
      ['€'.repeat(33), true],
      [`${'€'.repeat(4)}y\u{1f600}${'z'.repeat(83)}`, true],
    ])
  })

  it('tells a listener added or removed by another listener from the next event on', async () => {
    const { make, raw } = setup()
    const a = make(A)
    await a.node.start()
    const nc = await raw(A)
    await flushMicrotasks()
    const late: string[] = []
    let stopFirst = () => undefined as unknown
    const first: string[] = []
    stopFirst = a.node.on((e) => {
      if (e.type !== 'message') return
      first.push(e.body)
      if (first.length === 1) a.node.on((l) => l.type === 'message' && late.push(l.body))
      if (first.length === 2) stopFirst()
    })
    nc.link.write(text('one\ntwo\nthree\n'))
    await flushMicrotasks()
    expect(first).toEqual(['one', 'two'])
    expect(late).toEqual(['two', 'three'])
    expect(a.bodies()).toEqual(['one', 'two', 'three'])
  })

  it('sends and records under its new name after a rename', async () => {
    const { make } = setup()
    const a = make(A)
    await a.node.start()
    a.node.send('before')
    a.node.rename('renamed')
    a.node.send('after')
    expect(a.node.self).toEqual({ id: 'plain', name: 'renamed' })
    expect(a.node.history.map((h) => `${h.from.name}: ${h.body}`)).toEqual(['me: before', 'renamed: after'])
  })
})

describe('PlainNode in runs: a read of lines in one event, a write of lines in one', () => {
  const runsOf = (events: readonly NodeEvent[]) => events.filter((e) => e.type === 'lines')
  /** A started node (with `runs` unless told otherwise) and a raw client connected to it. */
  async function runsNodeWithClient(runs = true) {
    const { make, raw } = setup()
    const a = make(A, [], { runs })
    await a.node.start()
    const nc = await raw(A)
    await flushMicrotasks()
    return { a, nc }
  }

  it('gives the lines of each read as one event, which stands for the message events a node without runs gives', async () => {
    const { make, raw } = setup()
    const runs = make(A, [], { runs: true })
    const lines = make(B)
    await runs.node.start()
    await lines.node.start()
    const chunks = ['one\r\ntwo\nthr', 'ee\n', '\n', 'tail']
    for (const to of [A, B]) {
      const nc = await raw(to)
      for (const chunk of chunks) {
        nc.link.write(text(chunk))
        await flushMicrotasks()
      }
      nc.link.destroy()
      await flushMicrotasks()
    }
    expect(runs.events.some((e) => e.type === 'message')).toBe(false)
    expect(runsOf(runs.events).map((e) => e.type === 'lines' && [e.firstSeq, e.bodies])).toEqual([
      [1, ['one', 'two']],
      [3, ['three']],
      [4, ['']],
      [5, ['tail']],
    ])
    const fromRuns = runs.events.flatMap(messagesOf)
    const fromLines = lines.events.filter((e) => e.type === 'message')
    // The same messages, ids, seqs and all, whichever way they came; only the links' names differ.
    const strip = (m: NodeEvent) => (m.type === 'message' ? { id: m.id, seq: m.seq, body: m.body } : m)
    expect(fromRuns.map(strip)).toEqual(fromLines.map(strip))
    expect(fromRuns.map((m) => m.id)).toEqual(['1-1', '1-2', '1-3', '1-4', '1-5'])
    expect(runs.node.history.map((h) => [h.direction, h.id, h.body])).toEqual(
      fromRuns.map((m) => ['in', m.id, m.body]),
    )
  })

  it('writes the lines handed over together in one write, and confirms each write once, for its last line', async () => {
    const { a, nc } = await runsNodeWithClient()
    a.node.sendLines(['first', '', 'third'])
    a.node.send('fourth')
    expect(a.node.pending).toBe(4)
    await flushMicrotasks()
    expect(nc.chunks()).toEqual(['first\n\nthird\nfourth\n'])
    const delivered = a.events.filter((e) => e.type === 'delivered')
    expect(delivered.map((e) => e.type === 'delivered' && [e.id, e.seq])).toEqual([['plain-4', 4]])
    expect(a.node.pending).toBe(0)
    expect(a.node.history.map((h) => [h.direction, h.id, h.body])).toEqual([
      ['out', 'plain-1', 'first'],
      ['out', 'plain-2', ''],
      ['out', 'plain-3', 'third'],
      ['out', 'plain-4', 'fourth'],
    ])
  })

  it('writes a run larger than a batch in several writes of whole lines, in order, each confirmed', async () => {
    const { a, nc } = await runsNodeWithClient()
    a.node.send('before')
    const bodies = Array.from({ length: 3_000 }, (_, i) => `${i + 1} ${'y'.repeat(30)}`)
    a.node.sendLines(bodies)
    await flushMicrotasks()
    const chunks = nc.chunks()
    expect(chunks.length).toBeGreaterThan(2)
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(32 * 1024)
      expect(chunk.endsWith('\n')).toBe(true)
    }
    expect(nc.received()).toBe(`before\n${bodies.join('\n')}\n`)
    const delivered = a.events.flatMap((e) => (e.type === 'delivered' ? [e.seq] : []))
    expect(delivered).toHaveLength(chunks.length)
    expect(delivered.at(-1)).toBe(3_001)
    expect(a.node.pending).toBe(0)
  })

  it('confirms each line of sendLines on its own without runs, as send does', async () => {
    const { a, nc } = await runsNodeWithClient(false)
    a.node.sendLines(['a', 'b'])
    await flushMicrotasks()
    expect(nc.received()).toBe('a\nb\n')
    expect(a.events.filter((e) => e.type === 'delivered').map((e) => e.type === 'delivered' && e.id)).toEqual(
      ['plain-1', 'plain-2'],
    )
  })

  it('queues lines handed over before any link exists, counts each, and sends them in order when one opens', async () => {
    const { make, clock } = setup()
    const a = make(A, [B], { runs: true })
    await a.node.start()
    a.node.sendLines(['early', 'bird'])
    await flushMicrotasks()
    a.node.sendLines(['gets'])
    await flushMicrotasks()
    expect(a.node.pending).toBe(3)
    const b = make(B, [], { runs: true })
    await b.node.start()
    await clock.advance(2_000)
    expect(b.events.flatMap(messagesOf).map((m) => m.body)).toEqual(['early', 'bird', 'gets'])
    expect(await a.node.whenDelivered(10)).toBe(0)
  })

  it('sends none of the lines when one of them is too long', async () => {
    const { a, nc } = await runsNodeWithClient()
    expect(() => a.node.sendLines(['fine', 'x'.repeat(70_000)])).toThrow(/at most/)
    await flushMicrotasks()
    expect(nc.received()).toBe('')
    expect(a.node.pending).toBe(0)
    expect(a.node.history).toEqual([])
  })

  it('keeps the last lines of a run longer than the history, in order', async () => {
    const { make, raw } = setup()
    const a = make(A, [], { runs: true })
    await a.node.start()
    const nc = await raw(A)
    const count = DEFAULT_HISTORY_LIMIT + 5
    nc.link.write(text(Array.from({ length: count }, (_, i) => `line ${i + 1}\n`).join('')))
    await flushMicrotasks()
    const history = a.node.history
    expect(history).toHaveLength(DEFAULT_HISTORY_LIMIT)
    expect(history[0]?.body).toBe('line 6')
    expect(history.at(-1)?.body).toBe(`line ${count}`)
    expect(history.at(-1)?.seq).toBe(count)
  })
})
