import { afterEach, describe, expect, it } from 'vitest'
import { signedHere, signedMsgs } from '../test/fake-auth.js'
import { aliceBehindRawRelay, CAROL, closeNodes } from '../test/node-world.js'

afterEach(closeNodes)

async function aliceBehindRelay() {
  const { w, alice, raw } = await aliceBehindRawRelay(60_000)
  const carol = () => alice.node.members().find((m) => m.peer.id === CAROL)?.peer.name
  const told = () => alice.events.of('member').filter((e) => e.peer.id === CAROL)
  return { w, alice, raw, carol, told }
}

describe('the name of a member reached through relays', () => {
  it('follows a presence written after its messages, and the rename is told', async () => {
    const { w, alice, raw, carol, told } = await aliceBehindRelay()
    const t = w.clock.now()
    for (const msg of signedMsgs(CAROL, ['carol', t - 1_000, 'hi'])) raw.send(msg)
    raw.send(signedHere(CAROL, 'carol', t))
    await w.clock.advance(10)
    expect(alice.events.bodies()).toEqual(['hi'])
    expect(carol()).toBe('carol')
    // She took another name and says she is there under it: she goes by it now, and alice is told.
    raw.send(signedHere(CAROL, 'caroline', t + 5))
    await w.clock.advance(10)
    expect(carol()).toBe('caroline')
    expect(told().map((e) => [e.peer.name, e.renamedFrom])).toEqual([
      ['carol', undefined],
      ['caroline', 'carol'],
    ])
    expect(raw.closed).toBe(false)
  })
})
