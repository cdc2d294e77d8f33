/// <reference path="./types/sodium-native.d.ts" />
import { hash } from 'node:crypto'
import { canonicalMsg, type MessageAuth, type Msg } from '@parley/core'
import sodium from 'sodium-native'
import type { KeyPair } from './identity.js'

/** Signed bytes start with this, so a chain signature can never pass for a signature made elsewhere with the key. */
const SIGNING_CONTEXT = Buffer.from('parley room signature/1\n')
const GENESIS_CONTEXT = 'parley room genesis/1\n'
/** Public keys of recent origins, parsed once; the cache starts over when it reaches this size. */
const KEY_CACHE = 4096

/**
 * Signs this node's messages and checks other members' messages with their node ids, which are ed25519
 * public keys: chain hashes are sha256 (`H(prev || canonicalMsg(msg))`, base64url), signatures ed25519
 * over a hash (base64url).
 * @example new ParleyNode({ ..., auth: createMessageAuth(identity) })
 */
export function createMessageAuth(keyPair: KeyPair): MessageAuth {
  if (keyPair.secretKey?.length !== sodium.crypto_sign_SECRETKEYBYTES) {
    throw new TypeError('keyPair.secretKey must be a 64-byte ed25519 secret key')
  }
  const secretKey = Buffer.from(keyPair.secretKey)
  const publicKeys = new Map<string, Buffer | undefined>()
  const publicKeyOf = (originId: string): Buffer | undefined => {
    if (publicKeys.has(originId)) return publicKeys.get(originId)
    if (publicKeys.size >= KEY_CACHE) publicKeys.clear()
    const key = /^[0-9a-f]{64}$/.test(originId) ? Buffer.from(originId, 'hex') : undefined
    publicKeys.set(originId, key)
    return key
  }
  return {
    genesis: (originId) => digest(GENESIS_CONTEXT + originId),
    // One-shot hashing: a Hash object per message cost twice as much as the hashing itself.
    chain: (prev: string, msg: Msg) => hash('sha256', `${prev}\n${canonicalMsg(msg)}`, 'base64url'),
    sign: (hash) => {
      const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
      sodium.crypto_sign_detached(signature, signed(hash), secretKey)
      return signature.toString('base64url')
    },
    verify: (originId, hash, sig) => {
      const publicKey = publicKeyOf(originId)
      const signature = Buffer.from(sig, 'base64url')
      if (!publicKey || signature.length !== sodium.crypto_sign_BYTES) return false
      return sodium.crypto_sign_verify_detached(signature, signed(hash), publicKey)
    },
  }
}

function digest(text: string): string {
  return hash('sha256', text, 'base64url')
}

function signed(hash: string): Buffer {
  return Buffer.concat([SIGNING_CONTEXT, Buffer.from(hash, 'utf8')])
}
