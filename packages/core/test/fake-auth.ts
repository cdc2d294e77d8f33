import { createHash } from 'node:crypto'
import {
  canonicalHere,
  canonicalHereReason,
  canonicalLost,
  canonicalMsg,
  type MessageAuth,
  Room,
} from '../src/room.js'
import type { Here, HereState, Lost, Msg } from '../src/schema.js'

/**
 * A MessageAuth for tests: real sha256 chain hashes, and a "signature" that only says who signed what.
 * It cannot stop a determined forger, but a relay that alters a body or invents a message without
 * knowing the scheme is caught exactly as the real one would catch it.
 */
export function fakeAuth(selfId: string): MessageAuth & { signed: number; verified: number } {
  const auth = {
    signed: 0,
    verified: 0,
    genesis: (originId: string) => createHash('sha256').update(`genesis:${originId}`).digest('hex'),
    chain: (prev: string, msg: Parameters<MessageAuth['chain']>[1]) =>
      createHash('sha256').update(prev).update(canonicalMsg(msg)).digest('hex'),
    hereHash: (here: Parameters<NonNullable<MessageAuth['hereHash']>>[0]) =>
      createHash('sha256').update(canonicalHere(here)).digest('hex'),
    hereReasonHash: (here: Parameters<NonNullable<MessageAuth['hereReasonHash']>>[0]) =>
      createHash('sha256').update(canonicalHereReason(here)).digest('hex'),
    lostHash: (lost: Parameters<NonNullable<MessageAuth['lostHash']>>[0]) =>
      createHash('sha256').update(canonicalLost(lost)).digest('hex'),
    sign: (hash: string) => {
      auth.signed++
      return `sig:${selfId.slice(0, 16)}:${hash}`
    },
    verify: (originId: string, hash: string, sig: string) => {
      auth.verified++
      return sig === `sig:${originId.slice(0, 16)}:${hash}`
    },
  }
  return auth
}

/** A presence of `from`, signed as `fakeAuth(from)` signs it. */
export function signedHere(from: string, name: string, ts: number, state: HereState = 'here'): Here {
  const fields = { from, name, ts, state }
  const hash = createHash('sha256').update(canonicalHere(fields)).digest('hex')
  return { type: 'here', ...fields, sig: `sig:${from.slice(0, 16)}:${hash}` }
}

/** `from`'s leave saying `reason`, signed as `fakeAuth(from)` signs it: presence and reason apart. */
export function signedGone(from: string, name: string, ts: number, reason: string): Here {
  const hash = createHash('sha256')
    .update(canonicalHereReason({ from, name, ts, state: 'gone', reason }))
    .digest('hex')
  return { ...signedHere(from, name, ts, 'gone'), reason, reasonSig: `sig:${from.slice(0, 16)}:${hash}` }
}

/** `from`'s notice that it lost its link to `member` while it held its presence dated `ts`, signed as `fakeAuth(from)` signs it. */
export function signedLost(from: string, member: string, ts: number): Lost {
  const hash = createHash('sha256').update(canonicalLost({ from, member, ts })).digest('hex')
  return { type: 'lost', from, member, ts, sig: `sig:${from.slice(0, 16)}:${hash}` }
}

/** Messages of `id`, one per `[name, ts, body]`, chained and signed as its node signs them. */
export function signedMsgs(id: string, ...lines: [name: string, ts: number, body: string][]): Msg[] {
  const room = new Room({ self: { id, name: lines[0]?.[0] ?? 'x' }, auth: fakeAuth(id) })
  for (const [name, ts, body] of lines) room.compose({ id: `${name}-${room.nextSeq}`, ts, body, name })
  const sealed = room.seal()
  room.ownDurable(room.nextSeq - 1)
  return sealed
}

/** A writer of `peer`'s messages from time `t0` on (one ms apart), each one signed on its own. */
export function signedWriter(peer: { id: string; name: string }, t0: number): (...bodies: string[]) => Msg[] {
  const room = new Room({ self: peer, auth: fakeAuth(peer.id) })
  let n = 0
  return (...bodies) =>
    bodies.flatMap((body) => {
      n++
      room.compose({ id: `${peer.name}-${t0}-${n}`, ts: t0 + n, body, name: peer.name })
      const sealed = room.seal()
      room.ownDurable(room.nextSeq - 1)
      return sealed
    })
}
