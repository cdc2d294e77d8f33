/**
 * A newcomer caught up on a member's history sees each line under the name it was written with, but is
 * not told the renames in it as if they happened now: the member's presence, newer, already names it.
 */
import { afterEach, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { A, ALICE, B, BOB, C, CAROL, closeNodes, nodeWorld } from '../test/node-world.js'

afterEach(closeNodes)

async function carolRenamedTwiceBeforeAliceJoins() {
  const w = nodeWorld()
  const opt = (id: string) => ({ id, auth: fakeAuth(id) })
  const bob = w.node('bob', B, opt(BOB))
  const carol = w.node('carol', C, { ...opt(CAROL), peers: [B] })
  await bob.node.start()
  await carol.node.start()
  await w.clock.advance(100)
  carol.node.send('one')
  await w.clock.advance(1000)
  carol.node.rename('caroline')
  carol.node.send('two')
  await w.clock.advance(1000)
  carol.node.rename('cary')
  carol.node.send('three')
  await w.clock.advance(1000)
  const alice = w.node('alice', A, { ...opt(ALICE), peers: [B] })
  await alice.node.start()
  await w.clock.advance(1000)
  const told = () =>
    alice.events
      .of('member')
      .filter((e) => e.peer.id === CAROL)
      .map((e) => (e.renamedFrom === undefined ? e.peer.name : `${e.renamedFrom} -> ${e.peer.name}`))
  const lines = () =>
    alice.events
      .of('message')
      .filter((e) => e.from.id === CAROL)
      .map((e) => `<${e.from.name}> ${e.body}`)
  const name = () => alice.node.members().find((m) => m.peer.id === CAROL)?.peer.name
  return { w, carol, told, lines, name }
}

it('shows history under the names it was written with, and tells no rename in it', async () => {
  const { told, lines, name } = await carolRenamedTwiceBeforeAliceJoins()
  expect(lines()).toEqual(['<carol> one', '<caroline> two', '<cary> three'])
  expect(told()).toEqual(['cary'])
  expect(name()).toBe('cary')
})

it('still tells a rename that comes after', async () => {
  const { w, carol, told, lines, name } = await carolRenamedTwiceBeforeAliceJoins()
  carol.node.rename('carrie')
  carol.node.send('four')
  await w.clock.advance(1000)
  expect(lines().at(-1)).toBe('<carrie> four')
  expect(told()).toEqual(['cary', 'cary -> carrie'])
  expect(name()).toBe('carrie')
})
