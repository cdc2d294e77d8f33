import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  ADMISSION_BYTES,
  decodeAdmission,
  encodeAdmission,
  Purpose,
  proofMatches,
  roomProof,
} from './admission.js'

describe('link admission', () => {
  it('round-trips a dial by key and a room proof', () => {
    expect(decodeAdmission(encodeAdmission(Purpose.KEY))).toEqual({
      purpose: Purpose.KEY,
      proof: Buffer.alloc(32),
    })
    const proof = randomBytes(32)
    expect(decodeAdmission(encodeAdmission(Purpose.ROOM, proof))).toEqual({ purpose: Purpose.ROOM, proof })
    expect(encodeAdmission(Purpose.ROOM, proof).byteLength).toBe(ADMISSION_BYTES)
  })

  it('rejects another version, an unknown purpose and the wrong size', () => {
    const bytes = encodeAdmission(Purpose.KEY)
    expect(decodeAdmission(Buffer.concat([Buffer.from([2]), bytes.subarray(1)]))).toBeUndefined()
    expect(
      decodeAdmission(Buffer.concat([bytes.subarray(0, 1), Buffer.from([7]), bytes.subarray(2)])),
    ).toBeUndefined()
    expect(decodeAdmission(bytes.subarray(0, 33))).toBeUndefined()
  })

  it('binds a room proof to the key, the handshake and the role', () => {
    const key = randomBytes(32)
    const hash = randomBytes(64)
    const proof = roomProof(key, hash, 'CLIENT')
    expect(proofMatches(roomProof(key, hash, 'CLIENT'), proof)).toBe(true)
    expect(proofMatches(roomProof(key, hash, 'SERVER'), proof)).toBe(false)
    expect(proofMatches(roomProof(key, randomBytes(64), 'CLIENT'), proof)).toBe(false)
    expect(proofMatches(roomProof(randomBytes(32), hash, 'CLIENT'), proof)).toBe(false)
    expect(proofMatches(proof, proof.subarray(1))).toBe(false)
  })
})
