import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The first record each side sends on a DHT link, before any parley byte: what the link is for and, for a
 * room, a proof that the sender knows the room's secret. The client speaks first; the server answers only
 * once it has accepted. Anyone can find a room's topic on the DHT, but only members can make this proof.
 */
export const ADMISSION_VERSION = 1
export const ADMISSION_BYTES = 34

export const Purpose = { KEY: 0, ROOM: 1 } as const
export type Purpose = (typeof Purpose)[keyof typeof Purpose]

const Role = { CLIENT: 1, SERVER: 2 } as const
export type Role = keyof typeof Role

export interface Admission {
  purpose: Purpose
  proof: Buffer
}

const NO_PROOF = Buffer.alloc(32)

export function encodeAdmission(purpose: Purpose, proof: Buffer = NO_PROOF): Buffer {
  return Buffer.concat([Buffer.from([ADMISSION_VERSION, purpose]), proof])
}

/** The admission in `bytes`, or undefined when they are not one this version understands. */
export function decodeAdmission(bytes: Uint8Array): Admission | undefined {
  if (bytes.byteLength !== ADMISSION_BYTES || bytes[0] !== ADMISSION_VERSION) return undefined
  const purpose = bytes[1]
  if (purpose !== Purpose.KEY && purpose !== Purpose.ROOM) return undefined
  return { purpose, proof: Buffer.from(bytes.subarray(2)) }
}

/** Bound to this link's Noise handshake and to the sender's role, so a proof cannot be replayed elsewhere. */
export function roomProof(proofKey: Buffer, handshakeHash: Uint8Array, role: Role): Buffer {
  return createHmac('sha256', proofKey)
    .update(handshakeHash)
    .update(Buffer.from([Role[role]]))
    .digest()
}

export function proofMatches(expected: Buffer, given: Buffer): boolean {
  return expected.byteLength === given.byteLength && timingSafeEqual(expected, given)
}
