/**
 * A relay forwards a message as soon as it checks out, before its own journal has it: only showing it and
 * acking it to the neighbour it came from wait for the journal, so a crash before the flush loses nothing
 * and shows nothing twice.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fakeAuth } from '../test/fake-auth.js'
import { ManualClock } from '../test/manual-clock.js'
import { MemoryNetwork } from '../test/memory-transport.js'
import type { Address } from './address.js'
import { FrameDecoder } from './codec.js'
import { type JournalRecord, restore } from './journal.js'
import { ParleyNode } from './node.js'
import type { NodeEvent } from './node-types.js'
import type { Message } from './schema.js'
import type { Link, Transport } from './transport.js'

const ALICE = `a11ce${'0'.repeat(59)}`
const BOB = `b0b${'0'.repeat(61)}`
const CAROL = `ca201${'0'.repeat(59)}`
const DAVE = `da5e${'0'.repeat(60)}`
const BOB_AT: Address = '127.0.0.1:5101'

/** A journal whose appends can be held back, as a disk that has not flushed yet. */
class HeldJournal {
  /** What reached the disk. */
  readonly records: JournalRecord[] = []
  private held: { records: JournalRecord[]; resolve: () => void }[] = []
  holding = false

  readonly append = (records: JournalRecord[]): Promise<void> => {
    if (!this.holding) {
      this.records.push(...records)
      return Promise.resolve()
    }
    return new Promise((resolve) => this.held.push({ records: [...records], resolve }))
  }

  get waiting(): number {
    return this.held.length
  }

  /** The flush completes. */
  release(): void {
    this.holding = false
    for (const { records, resolve } of this.held.splice(0)) {
      this.records.push(...records)
      resolve()
    }
  }

  /** The process dies before the flush: what was held never reaches the disk. */
  crash(): void {
    this.held = []
  }
}

interface Member {
  node: ParleyNode
  readonly shown: string[]
  readonly events: NodeEvent[]
}

const running: ParleyNode[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.close('test over')))
})

function room() {
  const network = new MemoryNetwork()
  const clock = new ManualClock()
  const start = async (
    name: string,
    id: string,
    options: {
      listen?: Address
      journal?: HeldJournal
      restored?: JournalRecord[]
      wrap?: (transport: Transport) => Transport
      presence?: false
    } = {},
    member: Member = { node: undefined as unknown as ParleyNode, shown: [], events: [] },
  ): Promise<Member> => {
    const journal = options.journal ?? new HeldJournal()
    member.node = new ParleyNode({
      transport: (options.wrap ?? ((t) => t))(network.transport('127.0.0.1', id)),
      clock,
      name,
      id,
      listen: options.listen ?? '127.0.0.1:0',
      random: () => 0.5,
      auth: fakeAuth(id),
      journal: { append: journal.append },
      ...(options.restored ? { restored: restore(options.restored, { id, name }) } : {}),
      ...(options.presence === false ? { presence: false } : {}),
    })
    member.node.on((event) => {
      member.events.push(event)
      if (event.type === 'message') member.shown.push(event.body)
    })
    running.push(member.node)
    await member.node.start()
    return member
  }
  const until = async (done: () => boolean, what: string) => {
    for (let i = 0; i < 400; i++) {
      if (done()) return
      await clock.advance(i < 100 ? 0 : 250)
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  return { clock, start, until }
}

/**
 * Carol with a journal of her own, dialing bob; once she is closed, `startAgain()` starts her from what
 * her journal holds and has her dial bob again.
 */
async function carolWithJournal(start: ReturnType<typeof room>['start']) {
  const journal = new HeldJournal()
  const carol = await start('carol', CAROL, { journal })
  carol.node.connect(BOB_AT)
  const startAgain = async () => {
    const again = await start('carol', CAROL, { journal: new HeldJournal(), restored: [...journal.records] })
    again.node.connect(BOB_AT)
    return again
  }
  return { carol, startAgain }
}

/** Alice and Carol each dial Bob, the relay between them, whose journal is held back on demand. */
async function line() {
  const { clock, start, until } = room()
  const bobJournal = new HeldJournal()
  const bob = await start('bob', BOB, { listen: BOB_AT, journal: bobJournal })
  const alice = await start('alice', ALICE)
  const carol = await start('carol', CAROL)
  alice.node.connect(BOB_AT)
  carol.node.connect(BOB_AT)
  await until(() => bob.node.sessionsSnapshot().filter((s) => s.connected).length === 2, 'both links')
  // Each side has heard of the other through Bob's opening acks before anything is held.
  await clock.advance(0)
  return { clock, start, until, alice, bob, bobJournal, carol }
}

describe('relaying ahead of the journal', () => {
  it('forwards a message before its journal flush completes, but shows and acks it only after', async () => {
    const { until, alice, bob, bobJournal, carol } = await line()
    bobJournal.holding = true
    alice.node.send('hello')
    await until(() => carol.shown.length === 1, 'carol to show it through bob')
    expect(carol.shown).toEqual(['hello'])
    expect(bobJournal.waiting).toBeGreaterThan(0)
    // Bob has not made it durable: he neither shows it nor tells alice he has it.
    expect(bob.shown).toEqual([])
    expect(alice.node.pending).toBe(1)
    expect(alice.events.filter((e) => e.type === 'delivered')).toEqual([])

    bobJournal.release()
    await until(() => bob.shown.length === 1 && alice.node.pending === 0, 'bob to show and ack it')
    expect(bob.shown).toEqual(['hello'])
    expect(alice.events.filter((e) => e.type === 'delivered').map((e) => e.to.name)).toEqual(['bob'])
    expect(carol.shown).toEqual(['hello'])
  })

  it('loses and duplicates nothing when the relay dies between forwarding and its flush', async () => {
    const { clock, start, until, alice, bob, bobJournal, carol } = await line()
    bobJournal.holding = true
    alice.node.send('hello')
    await until(() => carol.shown.length === 1, 'carol to show it through bob')
    expect(bob.shown).toEqual([])

    // Bob dies before the flush: his journal never gets the message, so he never acked it. His close
    // would wait for that flush for good (it waits for the journal): his links and listener go, and that
    // is all a dead process leaves.
    bobJournal.crash()
    void bob.node.close('killed')
    await clock.advance(0)
    expect(alice.node.pending).toBe(1)
    const durable = [...bobJournal.records]
    expect(durable.some((r) => r.t === 'received')).toBe(false)

    const restarted = await start(
      'bob',
      BOB,
      { listen: BOB_AT, journal: new HeldJournal(), restored: durable },
      bob,
    )
    // Alice still has it (her outbox waits for bob's ack) and sends it again; carol tells bob she has it.
    await until(() => restarted.shown.length === 1 && alice.node.pending === 0, 'bob to catch up')
    await clock.advance(5_000)
    expect(restarted.shown).toEqual(['hello'])
    expect(carol.shown).toEqual(['hello'])
    expect(alice.shown).toEqual([])
    alice.node.send('after')
    await until(() => carol.shown.length === 2 && restarted.shown.length === 2, 'the next message')
    await clock.advance(5_000)
    expect(carol.shown).toEqual(['hello', 'after'])
    expect(restarted.shown).toEqual(['hello', 'after'])
  })
})

describe('a member known only through the relay, after a restart', () => {
  it('is announced with when its message was sent, as on a first meeting', async () => {
    const { clock, start, until } = room()
    const bob = await start('bob', BOB, { listen: BOB_AT })
    // An alice that says nothing of her presence (an earlier release): she is known by her messages only.
    const alice = await start('alice', ALICE, { presence: false })
    alice.node.connect(BOB_AT)
    await until(() => bob.node.sessionsSnapshot().some((s) => s.connected), 'alice and bob')
    await clock.advance(0)
    const { carol, startAgain } = await carolWithJournal(start)
    alice.node.send('before')
    await until(() => carol.shown.length === 1, 'carol to get it through bob')
    // Carol stops; her journal knows alice as a member relayed by bob.
    await carol.node.close('restart')
    const restarted = await startAgain()
    await until(() => bob.node.sessionsSnapshot().filter((s) => s.connected).length === 2, 'carol back')
    alice.node.send('after')
    await until(() => restarted.shown.includes('after'), 'carol to get the next one')
    const sent = restarted.events.flatMap((e) => (e.type === 'message' && e.body === 'after' ? [e.ts] : []))
    const announced = restarted.events.filter((e) => e.type === 'member' && e.peer.id === ALICE)
    expect(announced).toEqual([expect.objectContaining({ via: 'relay', lastSent: sent[0] })])
  })
})

/** What a node writes on its links, frame by frame, with the key of the peer each went to. */
function tapped(sent: { to: string | undefined; message: Message }[]) {
  const tap = (link: Link): Link => {
    const decoder = new FrameDecoder()
    const write = link.write.bind(link)
    link.write = (chunk) => {
      for (const message of decoder.push(chunk).messages) sent.push({ to: link.remoteKey, message })
      return write(chunk)
    }
    return link
  }
  return (transport: Transport): Transport => ({
    createListener: (onLink) => transport.createListener((link) => onLink(tap(link))),
    dial: async (address, options) => tap(await transport.dial(address, options)),
  })
}

describe('copies that arrive together', () => {
  it('are not relayed back to a neighbour that sent one', async () => {
    // A diamond: alice's message reaches dave through bob and through carol at once.
    const { clock, start, until } = room()
    const sent: { to: string | undefined; message: Message }[] = []
    const DAVE_AT: Address = '127.0.0.1:5103'
    const CAROL_AT: Address = '127.0.0.1:5102'
    const dave = await start('dave', DAVE, { listen: DAVE_AT, wrap: tapped(sent) })
    const bob = await start('bob', BOB, { listen: BOB_AT })
    const carol = await start('carol', CAROL, { listen: CAROL_AT })
    const alice = await start('alice', ALICE)
    bob.node.connect(DAVE_AT)
    carol.node.connect(DAVE_AT)
    alice.node.connect(BOB_AT)
    alice.node.connect(CAROL_AT)
    const linked = (m: Member) => m.node.sessionsSnapshot().filter((s) => s.connected).length === 2
    await until(() => [alice, bob, carol, dave].every(linked), 'the diamond')
    await clock.advance(0)

    alice.node.send('hello')
    await until(() => [bob, carol, dave].every((m) => m.shown.length === 1), 'everyone to show it')
    await clock.advance(0)
    expect([bob.shown, carol.shown, dave.shown]).toEqual([['hello'], ['hello'], ['hello']])
    // Bob's copy and carol's were both read before dave relayed: each of them has it, so dave sends it to neither.
    const relayed = sent.filter(({ message }) => message.type === 'msg' && message.body === 'hello')
    expect(relayed).toEqual([])
  })
})

/** bob relays between alice and carol, and alice also dials carol: a triangle. */
async function triangle() {
  const { clock, start, until } = room()
  await start('bob', BOB, { listen: BOB_AT })
  const CAROL_AT: Address = '127.0.0.1:5102'
  const carol = await start('carol', CAROL, { listen: CAROL_AT })
  const alice = await start('alice', ALICE)
  alice.node.connect(BOB_AT)
  carol.node.connect(BOB_AT)
  alice.node.connect(CAROL_AT)
  const carolOf = () => alice.node.members().find((m) => m.peer.id === CAROL)
  return { clock, until, alice, carol, carolOf, CAROL_AT }
}

describe('a neighbour whose link is down while the mesh still reaches it', () => {
  it('is listed as such, not as only disconnected', async () => {
    const { clock, until, alice, carol, carolOf, CAROL_AT } = await triangle()
    await until(() => carolOf()?.connected === true && carolOf()?.direct === true, 'alice linked to carol')
    expect(carolOf()?.throughMesh).toBeUndefined()
    alice.node.disconnect(CAROL_AT)
    await until(() => carolOf()?.connected === false, 'the link to carol closed')
    await clock.advance(0)
    expect(carolOf()).toMatchObject({ direct: true, connected: false, throughMesh: true })
    // And so it is: carol's next message comes to alice through bob.
    carol.node.send('still here')
    await until(() => alice.shown.includes('still here'), 'carol through bob')
  })

  it('is not said to be reached through the mesh once it left', async () => {
    const { until, carol, carolOf } = await triangle()
    await until(() => carolOf()?.connected === true, 'alice linked to carol')
    await carol.node.close('quit')
    await until(() => carolOf()?.connected === false, 'carol gone')
    expect(carolOf()?.throughMesh).toBeUndefined()
  })
})

describe('a neighbour that renamed itself while this node was down', () => {
  it('is told as a rename when it comes back, from the name the journal knew', async () => {
    const { start, until } = room()
    const bob = await start('bob', BOB, { listen: BOB_AT })
    const { carol, startAgain } = await carolWithJournal(start)
    bob.node.send('as bob')
    await until(() => carol.shown.length === 1, 'carol to hear bob')
    await carol.node.close('restart')
    bob.node.rename('bobby')
    const restarted = await startAgain()
    await until(
      () => restarted.events.some((e) => e.type === 'member' && e.peer.id === BOB),
      'bob to come back',
    )
    const members = restarted.events.filter((e) => e.type === 'member' && e.peer.id === BOB)
    expect(members).toEqual([
      expect.objectContaining({ peer: { id: BOB, name: 'bobby' }, renamedFrom: 'bob' }),
    ])
  })
})
