import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { sha256 } from './sha256.js'

const nodeSha256 = (...parts: Uint8Array[]): string => {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest('hex')
}
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

describe('sha256', () => {
  it('gives the standard digests of the FIPS 180-4 examples', () => {
    expect(hex(sha256(new Uint8Array()))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    )
    expect(hex(sha256(Buffer.from('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    expect(hex(sha256(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    )
  })

  it('agrees with node:crypto at every length around the block and padding boundaries, in any split', () => {
    for (let length = 0; length <= 200; length++) {
      const data = randomBytes(length)
      const cut = length >> 1
      expect(hex(sha256(data)), `length ${length}`).toBe(nodeSha256(data))
      expect(hex(sha256(data.subarray(0, cut), data.subarray(cut))), `length ${length}, split`).toBe(
        nodeSha256(data),
      )
    }
  })

  it('agrees with node:crypto on a long input', () => {
    const data = randomBytes(100_000)
    expect(hex(sha256(data))).toBe(nodeSha256(data))
  })
})
