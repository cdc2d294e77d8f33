import { DhtError } from './errors.js'

/** An ed25519 key pair in libsodium layout (secret key = seed + public key), as `@parley/secure` keeps it. */
export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

const HEX_KEY = /^[0-9a-f]{64}$/

/** A public key from its 64 hex characters (any case); throws BAD_KEY with what is wrong. */
export function parsePublicKey(text: string): Buffer {
  const hex = text.trim().toLowerCase()
  if (!HEX_KEY.test(hex))
    throw new DhtError(
      'BAD_KEY',
      `"${text}" is not a node key: expected 64 hex characters (the full key from the other side's invite)`,
    )
  return Buffer.from(hex, 'hex')
}

export function toHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')
}

/** The key pair as the Buffers HyperDHT expects, after checking its shape. */
export function toDhtKeyPair(keyPair: KeyPair): { publicKey: Buffer; secretKey: Buffer } {
  if (keyPair.publicKey.byteLength !== 32 || keyPair.secretKey.byteLength !== 64)
    throw new DhtError(
      'BAD_KEY',
      'the key pair must be ed25519: a 32-byte public key and a 64-byte secret key',
    )
  return { publicKey: Buffer.from(keyPair.publicKey), secretKey: Buffer.from(keyPair.secretKey) }
}
