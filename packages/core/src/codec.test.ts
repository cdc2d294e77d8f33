import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_FRAME, decodeBody, encodeFrame, FrameDecoder } from './codec.js'
import { ProtocolError } from './errors.js'
import type { Message } from './schema.js'

const ALICE = '0123456789abcdef'

const sample: Message[] = [
  { type: 'hello', v: '1.0', id: ALICE, name: 'alice', caps: ['instance:01'] },
  { type: 'accept' },
  { type: 'msg', id: 'm1', seq: 1, ts: 5, from: ALICE, body: 'héllo 👋' },
  { type: 'ack', upTo: 1 },
  { type: 'ping', n: 1 },
  { type: 'pong', n: 1 },
  { type: 'bye', reason: 'quit' },
]

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function header(length: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes
}

function rawFrame(body: Uint8Array | string): Uint8Array {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body
  return concat([header(bytes.length), bytes])
}

/** Feeds `chunks` one push at a time and gathers everything the decoder yields. */
function feed(decoder: FrameDecoder, chunks: Iterable<Uint8Array>) {
  const messages: Message[] = []
  const errors: ProtocolError[] = []
  for (const chunk of chunks) {
    const result = decoder.push(chunk)
    messages.push(...result.messages)
    if (result.error) errors.push(result.error)
  }
  return { messages, errors }
}

function* bytesOf(stream: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < stream.length; i++) yield stream.subarray(i, i + 1)
}

const stream = concat(sample.map((m) => encodeFrame(m)))

describe('FrameDecoder', () => {
  describe('reassembles frames however the stream is chunked', () => {
    it('decodes a stream fed one byte at a time', () => {
      const decoder = new FrameDecoder()
      expect(feed(decoder, bytesOf(stream))).toEqual({ messages: sample, errors: [] })
      expect(decoder.pendingBytes).toBe(0)
    })

    it('decodes a stream fed all at once', () => {
      expect(new FrameDecoder().push(stream)).toEqual({ messages: sample })
    })

    it('decodes many frames merged into one chunk', () => {
      const many = Array.from({ length: 200 }, (_, i): Message => ({ type: 'ping', n: i }))
      expect(new FrameDecoder().push(concat(many.map((m) => encodeFrame(m))))).toEqual({ messages: many })
    })

    it('decodes a stream split in two at every possible offset', () => {
      for (let cut = 0; cut <= stream.length; cut++) {
        const decoder = new FrameDecoder()
        const result = feed(decoder, [stream.subarray(0, cut), stream.subarray(cut)])
        expect(result, `cut at ${cut}`).toEqual({ messages: sample, errors: [] })
        expect(decoder.pendingBytes).toBe(0)
      }
    })

    it('decodes a frame split in three at every pair of offsets', () => {
      const frame = encodeFrame(sample[2]!)
      for (let a = 0; a <= frame.length; a++) {
        for (let b = a; b <= frame.length; b++) {
          const parts = [frame.subarray(0, a), frame.subarray(a, b), frame.subarray(b)]
          expect(feed(new FrameDecoder(), parts).messages, `cuts at ${a} and ${b}`).toEqual([sample[2]])
        }
      }
    })

    it('returns the messages completed so far and keeps the partial frame for the next push', () => {
      const decoder = new FrameDecoder()
      const first = encodeFrame(sample[4]!)
      const second = encodeFrame(sample[5]!)
      const result = decoder.push(concat([first, second.subarray(0, 6)]))
      expect(result).toEqual({ messages: [sample[4]] })
      expect(decoder.pendingBytes).toBe(2)
      expect(decoder.push(second.subarray(6))).toEqual({ messages: [sample[5]] })
      expect(decoder.pendingBytes).toBe(0)
    })

    it('treats an empty chunk as nothing new', () => {
      const decoder = new FrameDecoder()
      expect(decoder.push(new Uint8Array(0))).toEqual({ messages: [] })
      decoder.push(stream.subarray(0, 3))
      expect(decoder.push(new Uint8Array(0))).toEqual({ messages: [] })
      expect(decoder.push(stream.subarray(3))).toEqual({ messages: sample })
    })

    it('decodes a 60 KiB frame fed one byte at a time', () => {
      const base = '{"type":"ping","n":9,"pad":""}'
      const body = base.replace('""', `"${'p'.repeat(60 * 1024 - base.length)}"`)
      expect(body.length).toBe(60 * 1024)
      const decoder = new FrameDecoder()
      const result = feed(decoder, bytesOf(rawFrame(body)))
      expect(result).toEqual({ messages: [{ type: 'ping', n: 9 }], errors: [] })
    })

    it('decodes a frame of exactly the limit and refuses one byte more', () => {
      const limit = 64
      const body = (n: number) => `{"type":"pong","n":1}${' '.repeat(n - 21)}`
      expect(new FrameDecoder(limit).push(rawFrame(body(limit)))).toEqual({
        messages: [{ type: 'pong', n: 1 }],
      })
      expect(new FrameDecoder(limit).push(rawFrame(body(limit + 1))).error?.code).toBe('FRAME_TOO_LARGE')
    })
  })

  describe('refuses broken streams', () => {
    it('refuses a huge announced frame from its 4-byte prefix alone, before any of the body arrives', () => {
      const decoder = new FrameDecoder()
      const { messages, error } = decoder.push(header(1024 ** 3))
      expect(messages).toEqual([])
      expect(error).toBeInstanceOf(ProtocolError)
      expect(error?.code).toBe('FRAME_TOO_LARGE')
      expect(error?.message).toContain(String(1024 ** 3))
      expect(decoder.pendingBytes).toBeLessThanOrEqual(4)
    })

    it('refuses a huge announced frame even when its prefix arrives split over two pushes', () => {
      const decoder = new FrameDecoder()
      const prefix = header(0xffff_ffff)
      expect(decoder.push(prefix.subarray(0, 2))).toEqual({ messages: [] })
      expect(decoder.push(prefix.subarray(2)).error?.code).toBe('FRAME_TOO_LARGE')
    })

    it.each([
      ['an HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
      ['a line of chat typed into a raw socket', 'hello?\n'],
    ])('tells %s apart from an oversized frame with NOT_PARLEY', (_, text) => {
      const { error } = new FrameDecoder().push(new TextEncoder().encode(text))
      expect(error?.code).toBe('NOT_PARLEY')
      expect(error?.message).toContain(JSON.stringify(text.slice(0, 4)))
    })

    it('honours a custom frame limit', () => {
      expect(new FrameDecoder(100).push(header(101)).error).toMatchObject({
        code: 'FRAME_TOO_LARGE',
        message: 'peer announced a 101-byte frame; the limit is 100 bytes (--max-frame)',
      })
      expect(new FrameDecoder(100).push(header(100)).error).toBeUndefined()
      expect(new FrameDecoder().push(header(DEFAULT_MAX_FRAME + 1)).error?.code).toBe('FRAME_TOO_LARGE')
    })

    it('refuses a zero-length frame with EMPTY_FRAME', () => {
      expect(new FrameDecoder().push(header(0)).error?.code).toBe('EMPTY_FRAME')
    })

    it.each([
      ['a byte that never starts a character', [0xff]],
      ['a truncated two-byte sequence', [0x7b, 0xc3]],
      ['an overlong encoding of "/"', [0xc0, 0xaf]],
      ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ])('refuses a body with %s with BAD_UTF8', (_, bytes) => {
      const { error } = new FrameDecoder().push(rawFrame(new Uint8Array(bytes)))
      expect(error?.code).toBe('BAD_UTF8')
      expect(error?.cause).toBeDefined()
    })

    it.each([
      ['truncated JSON', '{"type":"ping",'],
      ['bare words', 'hello there'],
      ['two JSON values', '{"type":"ping","n":1}{"type":"ping","n":2}'],
      ['single quotes', "{'type':'ping','n':1}"],
    ])('refuses %s with BAD_JSON', (_, text) => {
      const { error } = new FrameDecoder().push(rawFrame(text))
      expect(error?.code).toBe('BAD_JSON')
    })

    it('yields nothing more after an error, even for valid frames', () => {
      const decoder = new FrameDecoder()
      expect(decoder.push(rawFrame('nope')).error?.code).toBe('BAD_JSON')
      expect(decoder.push(stream)).toEqual({ messages: [] })
      expect(decoder.push(header(0))).toEqual({ messages: [] })
      expect(decoder.pendingBytes).toBe(0)
    })

    it('returns the messages that came before a bad frame in the same chunk, with the error', () => {
      const chunk = concat([
        encodeFrame(sample[4]!),
        encodeFrame(sample[5]!),
        rawFrame('{'),
        encodeFrame(sample[6]!),
      ])
      const { messages, error } = new FrameDecoder().push(chunk)
      expect(messages).toEqual([sample[4], sample[5]])
      expect(error?.code).toBe('BAD_JSON')
    })

    it('releases the buffered bytes once the stream is broken', () => {
      const decoder = new FrameDecoder()
      decoder.push(concat([header(1000), new Uint8Array(500)]))
      expect(decoder.pendingBytes).toBe(500)
      decoder.push(concat([new Uint8Array(500), rawFrame('x')]))
      expect(decoder.pendingBytes).toBe(0)
    })

    it('reports schema violations inside a valid frame as BAD_MESSAGE', () => {
      expect(new FrameDecoder().push(rawFrame('{"type":"ping","n":-1}')).error?.code).toBe('BAD_MESSAGE')
    })
  })
})

describe('encodeFrame', () => {
  it('prefixes the UTF-8 body with its byte length as a big-endian uint32', () => {
    const frame = encodeFrame({ type: 'bye', reason: 'é' })
    const body = new TextEncoder().encode('{"type":"bye","reason":"é"}')
    expect([...frame.subarray(0, 4)]).toEqual([0, 0, 0, body.length])
    expect(frame.subarray(4)).toEqual(body)
  })

  it('refuses a message whose body exceeds the frame limit with FRAME_TOO_LARGE', () => {
    const message: Message = { type: 'bye', reason: 'r'.repeat(200) }
    const size = JSON.stringify(message).length
    expect(() => encodeFrame(message, size)).not.toThrow()
    let caught: unknown
    try {
      encodeFrame(message, size - 1)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ProtocolError)
    expect((caught as ProtocolError).code).toBe('FRAME_TOO_LARGE')
  })
})

describe('decodeBody', () => {
  it('returns undefined for a message type this version does not know', () => {
    expect(decodeBody(new TextEncoder().encode('{"type":"future"}'))).toBeUndefined()
  })
})
