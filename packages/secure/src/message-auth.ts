/// <reference path="./types/sodium-native.d.ts" />
import { createRequire } from 'node:module'
import {
  canonicalHere,
  canonicalHereReason,
  canonicalLost,
  canonicalMsg,
  type MessageAuth,
  type Msg,
} from '@parley/core'
import { sodium } from './commonjs.js'
import type { KeyPair } from './identity.js'

/** Signed bytes start with this, so a chain signature can never pass for a signature made elsewhere with the key. */
const SIGNING_CONTEXT = Buffer.from('parley room signature/1\n')
const GENESIS_CONTEXT = 'parley room genesis/1\n'
/** Public keys of recent origins, parsed once; the cache starts over when it reaches this size. */
const KEY_CACHE = 4096

let nodeHash: typeof import('node:crypto').hash | undefined
/**
 * `node:crypto`'s one-shot hash, loaded at the first chain hash: loading the module took several
 * milliseconds of every start, and a node that only listens hashes nothing. It hashes a message in about
 * half the time libsodium's sha256 does (the string need not be copied into a buffer first).
 */
function hash(algorithm: 'sha256', text: string, encoding: 'base64url'): string {
  nodeHash ??= (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).hash
  return nodeHash(algorithm, text, encoding)
}

/*
 * ed25519 is libsodium's: node:crypto's `sign(null, …)` / `verify(null, …)` with the KeyObjects made once
 * gave the same signatures at about twice the cost (best of 15 rounds, two runs on a busy 2-core machine:
 * sign 38-53 µs against 16-24 µs, verify 117-133 µs against 55-69 µs), and a signature is on the round
 * trip of every message sent on its own.
 */

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
  // Reused on every call (each is synchronous), so signing allocates only the string it returns.
  const input = new SignedInput()
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES)
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
      sodium.crypto_sign_detached(signature, input.of(hash), secretKey)
      return signature.toString('base64url')
    },
    // A presence's hash: its canonical form starts with '[', which no chain hash's input (a base64url
    // `prev`, then a newline) does, so a signature over one can never pass for a signature over the other.
    hereHash: (here) => digest(canonicalHere(here)),
    // A leave's reason's hash: tagged apart from the presence it goes with.
    hereReasonHash: (here) => digest(canonicalHereReason(here)),
    // A lost-link notice's hash: its canonical form starts with another tag than a presence's.
    lostHash: (lost) => digest(canonicalLost(lost)),
    verify: (originId, hash, sig) => {
      const publicKey = publicKeyOf(originId)
      const given = Buffer.from(sig, 'base64url')
      if (!publicKey || given.length !== sodium.crypto_sign_BYTES) return false
      return sodium.crypto_sign_verify_detached(given, input.of(hash), publicKey)
    },
  }
}

function digest(text: string): string {
  return hash('sha256', text, 'base64url')
}

/** The bytes a signature covers, `SIGNING_CONTEXT` then the chain hash, written into one reused buffer. */
class SignedInput {
  /** A chain hash is 43 base64url characters; any hash up to this many UTF-8 bytes is written in place. */
  private static readonly ROOM = 256
  private readonly bytes = Buffer.alloc(SIGNING_CONTEXT.length + SignedInput.ROOM)

  constructor() {
    SIGNING_CONTEXT.copy(this.bytes)
  }

  of(hash: string): Buffer {
    if (hash.length * 3 > SignedInput.ROOM) return Buffer.concat([SIGNING_CONTEXT, Buffer.from(hash, 'utf8')])
    const written = this.bytes.write(hash, SIGNING_CONTEXT.length, 'utf8')
    return this.bytes.subarray(0, SIGNING_CONTEXT.length + written)
  }
}
