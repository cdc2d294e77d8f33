import { brotliCompressSync, crc32 as zlibCrc32 } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32Portable } from './crc32.js'
import { LogError } from './errors.js'
import {
  COMPRESSED,
  checkHeader,
  compressedFrame,
  encodeFrame,
  FRAME_HEADER_BYTES,
  LOG_HEADER,
  scanFrames,
} from './log-format.js'

const MAX = 1024 * 1024
const jsonValue = fc.jsonValue({ maxDepth: 3 })
const appends = fc.array(fc.array(jsonValue, { minLength: 1, maxLength: 4 }), { maxLength: 8 })

function encodeLog(batches: unknown[][]): { bytes: Buffer; ends: number[] } {
  const parts: Buffer[] = [LOG_HEADER]
  const ends: number[] = []
  let end = LOG_HEADER.length
  for (const batch of batches) {
    const frame = encodeFrame(batch, MAX)
    parts.push(frame)
    end += frame.length
    ends.push(end)
  }
  return { bytes: Buffer.concat(parts), ends }
}

/** What a reader must see: JSON's view of the records of the first `count` appends. */
function expected(batches: unknown[][], count: number): unknown[] {
  return JSON.parse(JSON.stringify(batches.slice(0, count).flat()))
}

describe('crc32', () => {
  it('computes the same checksums as zlib', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(crc32Portable(bytes)).toBe(zlibCrc32(bytes))
      }),
    )
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926)
  })
})

describe('encodeFrame', () => {
  it('writes the payload length and its CRC-32 ahead of the JSON', () => {
    const frame = encodeFrame([{ a: 'é' }], MAX)
    const payload = Buffer.from('[{"a":"é"}]')
    expect(frame.readUInt32BE(0)).toBe(payload.length)
    expect(frame.readUInt32BE(4)).toBe(zlibCrc32(payload))
    expect(frame.subarray(FRAME_HEADER_BYTES)).toEqual(payload)
  })

  it('refuses records JSON cannot encode, and appends over the size limit', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => encodeFrame([1n], MAX)).toThrow(expect.objectContaining({ code: 'NOT_JSON' }))
    expect(() => encodeFrame([cyclic], MAX)).toThrow(LogError)
    expect(() => encodeFrame(['x'.repeat(100)], 50)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }))
  })
})

describe('checkHeader', () => {
  it('tells a log, a log cut during creation, a newer version and a foreign file apart', () => {
    expect(checkHeader(LOG_HEADER).status).toBe('ok')
    expect(checkHeader(Buffer.alloc(0)).status).toBe('incomplete')
    expect(checkHeader(LOG_HEADER.subarray(0, 5)).status).toBe('incomplete')
    expect(checkHeader(Buffer.from('parley-log 2\n')).status).toBe('ok')
    expect(checkHeader(Buffer.from('parley-log 3\n'))).toEqual({ status: 'version', found: '3' })
    expect(checkHeader(Buffer.from('{"hello":1}\n')).status).toBe('foreign')
    expect(checkHeader(Buffer.from('parley')).status).toBe('incomplete')
    expect(checkHeader(Buffer.from('parlez')).status).toBe('foreign')
  })
})

describe('scanFrames', () => {
  it('reads back every append, in order', () => {
    fc.assert(
      fc.property(appends, (batches) => {
        const { bytes } = encodeLog(batches)
        const scan = scanFrames(bytes, LOG_HEADER.length)
        expect(scan.problem).toBeUndefined()
        expect(scan.end).toBe(bytes.length)
        expect(scan.records).toEqual(expected(batches, batches.length))
      }),
    )
  })

  it('keeps exactly the complete appends of a log cut anywhere', () => {
    fc.assert(
      fc.property(appends, fc.nat(), (batches, at) => {
        const { bytes, ends } = encodeLog(batches)
        const cut = LOG_HEADER.length + (at % (bytes.length - LOG_HEADER.length + 1))
        const complete = ends.filter((end) => end <= cut).length
        const scan = scanFrames(bytes.subarray(0, cut), LOG_HEADER.length)
        expect(scan.records).toEqual(expected(batches, complete))
        expect(scan.end).toBe(complete === 0 ? LOG_HEADER.length : ends[complete - 1])
      }),
    )
  })

  it('stops at a damaged frame and never returns a record that was not written', () => {
    fc.assert(
      fc.property(appends, fc.nat(), fc.integer({ min: 1, max: 255 }), (batches, at, xor) => {
        const { bytes, ends } = encodeLog(batches)
        if (bytes.length === LOG_HEADER.length) return
        const position = LOG_HEADER.length + (at % (bytes.length - LOG_HEADER.length))
        const damaged = Buffer.from(bytes)
        damaged[position] = (damaged[position] as number) ^ xor
        const intact = ends.filter((end) => end <= position).length
        const scan = scanFrames(damaged, LOG_HEADER.length)
        expect(scan.records).toEqual(expected(batches, intact))
        expect(scan.problem).toBeDefined()
      }),
    )
  })

  it('names why it stopped', () => {
    const frame = encodeFrame(['hello'], MAX)
    const problem = (bytes: Buffer) => scanFrames(bytes, 0).problem
    expect(problem(frame.subarray(0, 5))).toBe('incomplete frame header')
    expect(problem(frame.subarray(0, frame.length - 1))).toBe('incomplete frame payload')
    expect(problem(Buffer.alloc(16))).toBe('implausible frame length 0')
    expect(problem(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))).toBe(
      'implausible frame length 4294967295',
    )
    const flipped = Buffer.from(frame)
    flipped[frame.length - 2] = 0x41
    expect(problem(flipped)).toBe('checksum mismatch')
  })

  it('refuses a frame whose checksum matches but whose payload is not a JSON array', () => {
    const frameOf = (payload: Buffer) => {
      const header = Buffer.alloc(FRAME_HEADER_BYTES)
      header.writeUInt32BE(payload.length, 0)
      header.writeUInt32BE(zlibCrc32(payload), 4)
      return Buffer.concat([header, payload])
    }
    expect(scanFrames(frameOf(Buffer.from('{"a":1}')), 0).problem).toBe('payload is not a JSON array')
    expect(scanFrames(frameOf(Buffer.from('[1,')), 0).problem).toBe('payload is not UTF-8 JSON')
    expect(scanFrames(frameOf(Buffer.from([0x5b, 0xff, 0x5d])), 0).problem).toBe('payload is not UTF-8 JSON')
  })
})

describe('compressed frames (version 2)', () => {
  const compress = (frame: Buffer) =>
    compressedFrame(frame, brotliCompressSync(frame.subarray(FRAME_HEADER_BYTES)))

  it('reads a compressed frame as the records it holds, between plain ones, and counts its plain size', () => {
    fc.assert(
      fc.property(appends, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (batches, squeeze) => {
        const plain = batches.map((batch) => encodeFrame(batch, MAX))
        const stored = plain.map((frame, i) => (squeeze[i] ? compress(frame) : frame))
        const bytes = Buffer.concat([LOG_HEADER, ...stored])
        const sizes: number[] = []
        const scan = scanFrames(bytes, LOG_HEADER.length, (_records, frameBytes) => sizes.push(frameBytes))
        expect(scan.problem).toBeUndefined()
        expect(scan.records).toEqual(expected(batches, batches.length))
        expect(sizes).toEqual(stored.map((frame) => frame.length))
        expect(scan.plainBytes).toBe(plain.reduce((n, frame) => n + frame.length, 0))
      }),
    )
  })

  it('stores a frame compressed only when that makes it smaller, the flag in its length word', () => {
    const big = encodeFrame(
      Array.from({ length: 64 }, (_, i) => ({ t: 'received', seq: i })),
      MAX,
    )
    const small = encodeFrame([1], MAX)
    const squeezed = compress(big)
    expect(squeezed.length).toBeLessThan(big.length / 2)
    expect(squeezed.readUInt32BE(0)).toBe(COMPRESSED + squeezed.length - FRAME_HEADER_BYTES)
    expect(squeezed.readUInt32BE(4)).toBe(zlibCrc32(squeezed.subarray(FRAME_HEADER_BYTES)))
    expect(compress(small)).toBe(small)
  })

  it('stops at a compressed frame that is damaged, cut short, or does not decompress', () => {
    const frame = compress(
      encodeFrame(
        Array.from({ length: 40 }, (_, i) => ({ n: i })),
        MAX,
      ),
    )
    const before = encodeFrame(['before'], MAX)
    const problem = (bytes: Buffer) => {
      const scan = scanFrames(Buffer.concat([before, bytes]), 0)
      expect(scan.records).toEqual(['before'])
      expect(scan.end).toBe(before.length)
      return scan.problem
    }
    const flipped = Buffer.from(frame)
    flipped[frame.length - 3] = (flipped[frame.length - 3] as number) ^ 0x10
    expect(problem(flipped)).toBe('checksum mismatch')
    expect(problem(frame.subarray(0, frame.length - 1))).toBe('incomplete frame payload')
    // Its checksum matches, but the bytes are not Brotli's.
    const junk = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01])
    const header = Buffer.alloc(FRAME_HEADER_BYTES)
    header.writeUInt32BE(COMPRESSED + junk.length, 0)
    header.writeUInt32BE(zlibCrc32(junk), 4)
    expect(problem(Buffer.concat([header, junk]))).toBe('compressed payload does not decompress')
    // Compressed bytes that inflate to something other than a JSON array.
    const notArray = brotliCompressSync(Buffer.from('{"a":1}'))
    header.writeUInt32BE(COMPRESSED + notArray.length, 0)
    header.writeUInt32BE(zlibCrc32(notArray), 4)
    expect(problem(Buffer.concat([header, notArray]))).toBe('payload is not a JSON array')
  })
})
