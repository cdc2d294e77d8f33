/** Everything the fuzzer makes comes from one seed: the same seed gives the same frames and keys. */
import { createPrivateKey, createPublicKey } from 'node:crypto'
import type { KeyPair } from '@parley/secure'

/** mulberry32: small, fast, and good enough to pick frames. */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }

  hex(chars: number): string {
    let out = ''
    for (let i = 0; i < chars; i++) out += '0123456789abcdef'[this.int(16)]
    return out
  }
}

/** The DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows it. */
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex')

/** An ed25519 key pair in the form parley keeps (64-byte secret: seed then public key), made from the rng. */
export function seededKeyPair(rng: Rng): KeyPair {
  const seed = Buffer.from(rng.bytes(32))
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
  const publicKey = Buffer.from(jwk.x as string, 'base64url')
  return { publicKey: new Uint8Array(publicKey), secretKey: new Uint8Array(Buffer.concat([seed, publicKey])) }
}

export const idOf = (keyPair: KeyPair): string => Buffer.from(keyPair.publicKey).toString('hex')
