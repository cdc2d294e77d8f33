import { encodeFrame } from '@parley/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type HandshakeStep, NoiseHandshake } from './handshake.js'
import { generateKeyPair } from './identity.js'

/** Runs two handshakes against each other, feeding each one's output to the other in pieces of `split` bytes. */
function run(initiator: NoiseHandshake, responder: NoiseHandshake, split = Number.POSITIVE_INFINITY) {
  const done: Partial<Record<'initiator' | 'responder', HandshakeStep & { status: 'done' }>> = {}
  let toResponder: Uint8Array[] = [initiator.start()!]
  let toInitiator: Uint8Array[] = []
  while (toResponder.length || toInitiator.length) {
    for (const [bytes, side, into] of [
      [toResponder, 'responder', (b: Uint8Array) => toInitiator.push(b)],
      [toInitiator, 'initiator', (b: Uint8Array) => toResponder.push(b)],
    ] as const) {
      const handshake = side === 'responder' ? responder : initiator
      const pending = Buffer.concat(bytes)
      if (side === 'responder') toResponder = []
      else toInitiator = []
      for (let offset = 0; offset < pending.length; offset += split) {
        const step = handshake.push(pending.subarray(offset, offset + split))
        if (step.status === 'failed') throw new Error(`${side} failed: ${step.detail}`)
        if (step.send) into(step.send)
        if (step.status === 'done') done[side] = step
      }
    }
  }
  return done
}

describe('NoiseHandshake', () => {
  it('agrees on keys and learns each side’s public key, however the bytes are split', () => {
    for (const split of [1, 2, 3, 7, Number.POSITIVE_INFINITY]) {
      const a = generateKeyPair()
      const b = generateKeyPair()
      const done = run(new NoiseHandshake(true, a), new NoiseHandshake(false, b), split)
      const i = done.initiator!.result
      const r = done.responder!.result
      expect(i.remotePublicKey).toEqual(Buffer.from(b.publicKey))
      expect(r.remotePublicKey).toEqual(Buffer.from(a.publicKey))
      expect(i.tx).toEqual(r.rx)
      expect(i.rx).toEqual(r.tx)
      expect(i.hash).toEqual(r.hash)
    }
  })

  it('hands back bytes that arrived after the last handshake message', () => {
    const initiator = new NoiseHandshake(true, generateKeyPair())
    const responder = new NoiseHandshake(false, generateKeyPair())
    const msg2 = responder.push(initiator.start()!)
    const step = initiator.push(msg2.status === 'continue' ? msg2.send! : new Uint8Array())
    expect(step.status).toBe('done')
    const msg3 = (step as { send: Uint8Array }).send
    const last = responder.push(Buffer.concat([msg3, Buffer.from('after')]))
    expect(last).toMatchObject({ status: 'done' })
    expect(Buffer.from((last as { rest: Uint8Array }).rest).toString()).toBe('after')
  })

  it('recognises a plain parley node or a text client by its first byte', () => {
    const hello = encodeFrame({ type: 'hello', v: '1.0', id: 'ab'.repeat(32), name: 'alice', caps: [] })
    for (const side of [true, false]) {
      expect(new NoiseHandshake(side, generateKeyPair()).push(hello.subarray(0, 1))).toMatchObject({
        status: 'failed',
        code: 'NOT_SECURE',
      })
      expect(new NoiseHandshake(side, generateKeyPair()).push(Buffer.from('hello\n'))).toMatchObject({
        status: 'failed',
        code: 'NOT_SECURE',
        detail: expect.stringContaining('text'),
      })
    }
  })

  it('fails with CRYPTO, not NOT_SECURE, when a well-framed message does not authenticate', () => {
    const initiator = new NoiseHandshake(true, generateKeyPair())
    const responder = new NoiseHandshake(false, generateKeyPair())
    const msg2 = Buffer.from((responder.push(initiator.start()!) as { send: Uint8Array }).send)
    msg2[msg2.length - 1]! ^= 1
    expect(initiator.push(msg2)).toMatchObject({ status: 'failed', code: 'CRYPTO' })
  })

  it("refuses a responder's answer that belongs to another session", () => {
    const i1 = new NoiseHandshake(true, generateKeyPair())
    const i2 = new NoiseHandshake(true, generateKeyPair())
    const responder = new NoiseHandshake(false, generateKeyPair())
    i2.start()
    const msg2 = (responder.push(i1.start()!) as { send: Uint8Array }).send
    expect(i2.push(msg2)).toMatchObject({ status: 'failed', code: 'CRYPTO' })
  })

  it('never throws on arbitrary bytes, and never completes on them', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }),
        (initiator, chunks) => {
          const handshake = new NoiseHandshake(initiator, generateKeyPair())
          handshake.start()
          for (const chunk of chunks) {
            const step = handshake.push(chunk)
            expect(step.status).not.toBe('done')
            if (step.status === 'failed') break
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
