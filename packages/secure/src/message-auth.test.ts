/// <reference path="./types/sodium-native.d.ts" />
import type { Msg } from '@parley/core'
import sodium from 'sodium-native'
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from './identity.js'
import { createMessageAuth } from './message-auth.js'

const alice = generateKeyPair()
const bob = generateKeyPair()
const aliceId = Buffer.from(alice.publicKey).toString('hex')
const bobId = Buffer.from(bob.publicKey).toString('hex')
const msg: Msg = {
  type: 'msg',
  id: 'm1',
  seq: 1,
  ts: 1_700_000_000_000,
  from: aliceId,
  body: 'hi',
  name: 'alice',
}

describe('createMessageAuth: signed hash chains with the node identity', () => {
  const auth = createMessageAuth(alice)
  const other = createMessageAuth(bob)

  it('verifies its own signature over a chain hash under its node id, from any node', () => {
    const hash = auth.chain(auth.genesis(aliceId), msg)
    const sig = auth.sign(hash)
    expect(other.verify(aliceId, hash, sig)).toBe(true)
    expect(auth.verify(aliceId, hash, sig)).toBe(true)
  })

  it('signs a presence over a hash of its own kind, which no chain hash shares', () => {
    const here = { from: aliceId, name: 'alice', ts: msg.ts, state: 'here' as const }
    const hash = auth.hereHash!(here)
    const sig = auth.sign(hash)
    expect(other.verify(aliceId, other.hereHash!(here), sig)).toBe(true)
    // Any field changed (a relay renaming it, or turning `here` into `gone`) breaks it.
    expect(other.verify(aliceId, other.hereHash!({ ...here, state: 'gone' }), sig)).toBe(false)
    expect(other.verify(aliceId, other.hereHash!({ ...here, name: 'mallory' }), sig)).toBe(false)
    expect(other.verify(aliceId, other.hereHash!({ ...here, ts: here.ts + 1 }), sig)).toBe(false)
    // Not a chain hash: a message with the same fields hashes to something else.
    expect(hash).not.toBe(auth.chain(auth.genesis(aliceId), { ...msg, body: 'here' }))
  })

  it("signs a notice of a lost link over a hash of its own kind, which no presence's shares", () => {
    const lost = { from: aliceId, member: 'ab'.repeat(32), ts: msg.ts }
    const sig = auth.sign(auth.lostHash!(lost))
    expect(other.verify(aliceId, other.lostHash!(lost), sig)).toBe(true)
    expect(other.verify(aliceId, other.lostHash!({ ...lost, ts: lost.ts + 1 }), sig)).toBe(false)
    expect(other.verify(aliceId, other.lostHash!({ ...lost, member: 'cd'.repeat(32) }), sig)).toBe(false)
    const here = { from: aliceId, name: lost.member, ts: lost.ts, state: 'here' as const }
    expect(auth.lostHash!(lost)).not.toBe(auth.hereHash!(here))
  })

  it("signs a leave's reason over a hash of its own kind, bound to that leave, which the presence's is not", () => {
    const gone = { from: aliceId, name: 'alice', ts: msg.ts, state: 'gone' as const }
    const said = { ...gone, reason: 'back tomorrow' }
    const sig = auth.sign(auth.hereReasonHash!(said))
    expect(other.verify(aliceId, other.hereReasonHash!(said), sig)).toBe(true)
    // Other words, or the same words with another leave of hers, break it.
    expect(other.verify(aliceId, other.hereReasonHash!({ ...said, reason: 'fired' }), sig)).toBe(false)
    expect(other.verify(aliceId, other.hereReasonHash!({ ...said, ts: said.ts + 1 }), sig)).toBe(false)
    // Neither signature passes for the other.
    expect(other.verify(aliceId, other.hereHash!(gone), sig)).toBe(false)
    expect(other.verify(aliceId, other.hereReasonHash!(said), auth.sign(auth.hereHash!(gone)))).toBe(false)
  })

  it('refuses the signature under another id, over another hash, or tampered with', () => {
    const hash = auth.chain(auth.genesis(aliceId), msg)
    const sig = auth.sign(hash)
    expect(other.verify(bobId, hash, sig)).toBe(false)
    expect(other.verify(aliceId, auth.chain(hash, msg), sig)).toBe(false)
    const flipped = Buffer.from(sig, 'base64url')
    flipped[10]! ^= 1
    expect(other.verify(aliceId, hash, flipped.toString('base64url'))).toBe(false)
  })

  it('refuses malformed signatures and ids instead of throwing', () => {
    const hash = auth.chain('x', msg)
    expect(other.verify(aliceId, hash, 'short')).toBe(false)
    expect(other.verify('not-a-key', hash, auth.sign(hash))).toBe(false)
    expect(other.verify('ab'.repeat(8), hash, auth.sign(hash))).toBe(false)
  })

  it('chains every field the origin wrote, but not the hops a relay lowers or the signature', () => {
    const prev = auth.genesis(aliceId)
    const base = auth.chain(prev, msg)
    const changed: Partial<Msg>[] = [
      { body: 'hi!' },
      { seq: 2 },
      { id: 'm2' },
      { ts: 1 },
      { name: 'mallory' },
      { from: bobId },
    ]
    for (const change of changed) expect(auth.chain(prev, { ...msg, ...change })).not.toBe(base)
    expect(auth.chain('other', msg)).not.toBe(base)
    expect(auth.chain(prev, { ...msg, hops: 3, sig: 'x', prev: 'y' })).toBe(base)
  })

  it('hashes as every earlier release did (known answers, a short body and a long one)', () => {
    // Values from the release of 2026-12 (main at 310d9de): a change here forks every chain between
    // releases, and each side would refuse the other's messages as forged.
    const from = 'ab'.repeat(32)
    const line = 'alpha "bravo" charlie\tdelta \\ é ✓ \u2028 😀'
    const short: Msg = { type: 'msg', id: 'm1', seq: 1, ts: 1_700_000_000_000, from, body: 'hello' }
    const long: Msg = {
      type: 'msg',
      id: 'm2-0',
      seq: 2,
      ts: 1_700_000_000_001,
      from,
      body: Array.from({ length: 40 }, () => line).join('\n'),
      name: 'alice "a"',
      lines: 40,
      hops: 3,
    }
    expect(auth.chain('prev-hash', short)).toBe('TR-yt8HXKAf8xnP9QdHbukzSd3hmzRrV9G2bu2xIzMo')
    expect(auth.chain('prev-hash', long)).toBe('pqpAHI2uOqd-fAdR2tMtmxklZh4HzS0KiaFi7wtTiQQ')
  })

  it('gives each origin its own genesis, and fits the wire format (base64url, short)', () => {
    expect(auth.genesis(aliceId)).not.toBe(auth.genesis(bobId))
    const sig = auth.sign(auth.genesis(aliceId))
    expect(sig).toMatch(/^[A-Za-z0-9_-]{86}$/)
    expect(auth.genesis(aliceId)).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('signs exactly the context and the hash, whatever the hash, though it reuses its buffers', () => {
    const reference = (hash: string) => {
      const signature = Buffer.alloc(64)
      const input = Buffer.concat([Buffer.from('parley room signature/1\n'), Buffer.from(hash, 'utf8')])
      sodium.crypto_sign_detached(signature, input, Buffer.from(alice.secretKey))
      return signature.toString('base64url')
    }
    const short = auth.genesis(aliceId)
    const long = `${'h'.repeat(300)}é\u{1F600}\ud800`
    const sigs = [short, long, '', 'é'.repeat(86)].map((hash) => [hash, auth.sign(hash)] as const)
    for (const [hash, sig] of sigs) {
      expect(sig).toBe(reference(hash))
      expect(other.verify(aliceId, hash, sig)).toBe(true)
    }
    expect(other.verify(aliceId, long, sigs[0]![1])).toBe(false)
    expect(other.verify(aliceId, short, sigs[1]![1])).toBe(false)
  })

  it('refuses a key pair that is not ed25519', () => {
    expect(() => createMessageAuth({ publicKey: new Uint8Array(32), secretKey: new Uint8Array(10) })).toThrow(
      TypeError,
    )
  })
})
