/**
 * Plain mode (--plain) under hostile input, over the in-memory transport: raw text clients like netcat,
 * their bytes cut anywhere. Plain links have no handshake, so whatever connects is a peer at once.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { flushMicrotasks, ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import type { Address } from './address.js'
import type { NodeEvent } from './node-types.js'
import { PlainNode } from './plain-node.js'
import type { Link, Transport } from './transport.js'

let cases = 0
const RUNS = { oneClient: 2_000 } as const
afterAll(() => {
  expect(cases).toBeGreaterThanOrEqual(RUNS.oneClient)
})

const NODE_AT: Address = '127.0.0.1:6000'
const encoder = new TextEncoder()

/** Text with characters of every UTF-8 length (1 to 4 bytes), and no newline or control character. */
const lineText = fc.string({
  unit: fc.constantFrom('a', 'b', ' ', '~', 'é', 'ß', '€', '中', '😀', '𝄞'),
  maxLength: 12,
})

interface Stalling {
  /** While set, writes from the node are held and `write` returns false, like a socket nobody reads. */
  stalled: boolean
  writtenWhileFull: number
}

/** The node's transport; a link can be made to stop reading (see `Stalling`). */
function stallable(inner: Transport, stall: Stalling): Transport {
  const wrap = (link: Link): Link => {
    const write = link.write.bind(link)
    link.write = (chunk) => {
      if (!stall.stalled) return write(chunk)
      stall.writtenWhileFull += chunk.length
      return false
    }
    return link
  }
  return {
    createListener: (onLink) => inner.createListener((link) => onLink(wrap(link))),
    dial: async (address, options) => wrap(await inner.dial(address, options)),
  }
}

async function plainWorld() {
  const network = new MemoryNetwork()
  const clock = new ManualClock()
  const stall: Stalling = { stalled: false, writtenWhileFull: 0 }
  const node = new PlainNode({
    transport: stallable(network.transport(), stall),
    clock,
    name: 'plain',
    listen: NODE_AT,
    random: () => 0.5,
  })
  const events: NodeEvent[] = []
  node.on((e) => events.push(e))
  await node.start()
  const client = async () => {
    const link = await network.transport().dial(NODE_AT)
    link.attach({ data: () => undefined, drain: () => undefined, close: () => undefined })
    await flushMicrotasks(2)
    return link
  }
  /** Lines each client's link delivered, keyed by the client's address as the node sees it. */
  const linesFrom = (link: Link) =>
    events.flatMap((e) =>
      e.type === 'message' && e.from.id === `plain:${link.localAddress}` ? [e.body] : [],
    )
  return { node, events, stall, client, linesFrom }
}

/** A raw client of the node: returns the chunks the node writes to it, as text, in order. */
async function rawClient(w: Awaited<ReturnType<typeof plainWorld>>): Promise<string[]> {
  const chunks: string[] = []
  const link = await w.client()
  link.attach({
    data: (c) => chunks.push(new TextDecoder().decode(c)),
    drain: () => undefined,
    close: () => undefined,
  })
  return chunks
}

/** Cuts `bytes` at the given positions (modulo its length). */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Uint8Array[] = []
  let from = 0
  for (const point of points) {
    parts.push(bytes.subarray(from, point))
    from = point
  }
  parts.push(bytes.subarray(from))
  return parts.filter((p) => p.length > 0)
}

describe('PlainNode under hostile input', () => {
  it('turns one raw client’s bytes, cut anywhere, into exactly its lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineText, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (lines, at) => {
          cases++
          const w = await plainWorld()
          try {
            const link = await w.client()
            for (const part of cut(encoder.encode(lines.map((l) => `${l}\n`).join('')), at)) link.write(part)
            await flushMicrotasks(3)
            expect(w.linesFrom(link)).toEqual(lines)
          } finally {
            await w.node.close()
          }
        },
      ),
      { numRuns: RUNS.oneClient },
    )
  })

  it('decodes each raw client on its own, whatever another client sends between its chunks', async () => {
    // One client ends a chunk inside a multi-byte character; another client's chunk arrives before the
    // rest of it. Each link needs its own UTF-8 decoder state (one shared decoder gave "\ufffdhi").
    const w = await plainWorld()
    try {
      const alice = await w.client()
      const mallory = await w.client()
      const euro = encoder.encode('€')
      alice.write(Uint8Array.of(...encoder.encode('price: '), euro[0]!, euro[1]!))
      await flushMicrotasks(2)
      mallory.write(encoder.encode('hi\n'))
      await flushMicrotasks(2)
      alice.write(Uint8Array.of(euro[2]!, 0x0a))
      await flushMicrotasks(2)
      expect(w.linesFrom(mallory)).toEqual(['hi'])
      expect(w.linesFrom(alice)).toEqual(['price: €'])
    } finally {
      await w.node.close()
    }
  })

  it('keeps a bounded history however many lines a client floods it with', async () => {
    const w = await plainWorld()
    try {
      const flooder = await w.client()
      const chunk = encoder.encode('x\n'.repeat(10_000))
      for (let i = 0; i < 5; i++) {
        flooder.write(chunk)
        await flushMicrotasks(2)
      }
      expect(w.linesFrom(flooder)).toHaveLength(50_000)
      // A ParleyNode keeps 10,000 entries by default (historyLimit); a plain node keeps every line.
      expect(w.node.history.length).toBeLessThanOrEqual(10_000)
    } finally {
      await w.node.close()
    }
  })

  it('hands the lines sent in one turn to a raw client in one write, counted as pending until then', async () => {
    const w = await plainWorld()
    try {
      const chunks = await rawClient(w)
      for (const line of ['one', 'two', 'three']) w.node.send(line)
      expect(w.node.pending).toBe(3)
      expect(w.events.filter((e) => e.type === 'delivered')).toHaveLength(0)
      await flushMicrotasks(3)
      expect(chunks).toEqual(['one\ntwo\nthree\n'])
      expect(w.node.pending).toBe(0)
      expect(
        w.events.filter((e) => e.type === 'delivered').map((e) => e.type === 'delivered' && e.seq),
      ).toEqual([1, 2, 3])
    } finally {
      await w.node.close()
    }
  })

  it('writes the lines of the current turn before it ends its links when closed', async () => {
    const w = await plainWorld()
    const chunks = await rawClient(w)
    w.node.send('last words')
    await w.node.close()
    await flushMicrotasks(3)
    expect(chunks.join('')).toBe('last words\n')
  })

  it('stops writing to a raw client that does not read, and counts what waits as pending', async () => {
    const w = await plainWorld()
    try {
      await w.client()
      w.stall.stalled = true
      const line = 'y'.repeat(1_000)
      for (let i = 0; i < 1_000; i++) w.node.send(line)
      await flushMicrotasks(2)
      // Writing every line into the full socket buffer would queue 1 MB here (without bound in general),
      // with `pending` at 0, so the CLI would never stop reading stdin in plain mode.
      expect(w.stall.writtenWhileFull).toBeLessThan(64 * 1024)
    } finally {
      await w.node.close()
    }
  })
})
