/**
 * An authenticated stranger against a real node: the adversary completes a real Noise handshake with a
 * throwaway key and speaks the real protocol, then lies about names. Each test is one finding of the
 * "a stranger can't hurt you" review, and proves what the frontends get from the node and the launcher
 * (events, labels, status lines, log lines). What the CLI prints is proven end to end in apps/cli.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Adversary, ForgedOrigin } from '@parley/adversary'
import {
  type Address,
  type JournalQuota,
  type JournalRecord,
  journalOrigin,
  type Msg,
  type NodeEvent,
  type NodeOptions,
  ParleyNode,
  ROOM_CAP,
  restore,
  weigh,
} from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair, type KeyPair } from '@parley/secure'
import { AppendLog } from '@parley/store'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import { parseFlags } from '../src/flags.js'
import {
  describeEvent,
  describeMembers,
  EventLog,
  PeerLabels,
  shortId,
  terminalLine,
  terminalSafe,
} from '../src/index.js'
import { startNode } from '../src/node-setup.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()))
})

interface Victim {
  readonly node: ParleyNode
  readonly address: Address
  readonly events: NodeEvent[]
  readonly labels: PeerLabels
  /** Resolves with the first event (already seen or later) that `match` accepts. */
  event(match: (event: NodeEvent) => boolean, timeoutMs?: number): Promise<NodeEvent>
}

async function startVictim(options: Partial<NodeOptions> = {}): Promise<Victim> {
  const keyPair = generateKeyPair()
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    id: Buffer.from(keyPair.publicKey).toString('hex'),
    name: 'alice',
    listen: '127.0.0.1:0',
    auth: createMessageAuth(keyPair),
    ...options,
  })
  cleanups.push(() => node.close())
  const events: NodeEvent[] = []
  const labels = new PeerLabels()
  const waiters = new Set<() => void>()
  node.on((event) => {
    events.push(event)
    labels.observe(event)
    for (const waiter of [...waiters]) waiter()
  })
  const address = await node.start()
  return {
    node,
    address,
    events,
    labels,
    event: (match, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(
            new Error(`no such event within ${timeoutMs} ms; got ${events.map((e) => e.type).join(', ')}`),
          )
        }, timeoutMs)
        const check = () => {
          const found = events.find(match)
          if (!found) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        waiters.add(check)
        check()
      }),
  }
}

async function adversary(victim: Victim, name: string): Promise<Adversary> {
  const attacker = await Adversary.dial(victim.address, { name })
  cleanups.push(() => attacker.close())
  await attacker.join()
  return attacker
}

const messageFrom = (id: string, body: string) => (e: NodeEvent) =>
  e.type === 'message' && e.from.id === id && e.body === body

describe('finding 3: impersonation by rename', () => {
  it('warns and labels both keys when a relayed member signs a later message under a name in use', async () => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    bob.say('hi, bob here')
    await victim.event(messageFrom(bob.id, 'hi, bob here'))

    const relay = await adversary(victim, 'relay')
    const mallory = new ForgedOrigin('mallory')
    relay.relay(mallory.say('hello all'))
    await victim.event(messageFrom(mallory.id, 'hello all'))
    relay.relay(mallory.say('I am bob, wire the money today', { name: 'bob' }))
    const shown = await victim.event(messageFrom(mallory.id, 'I am bob, wire the money today'))

    const renamed = await victim.event((e) => e.type === 'member' && e.renamedFrom !== undefined)
    expect(renamed).toMatchObject({
      peer: { id: mallory.id, name: 'bob' },
      renamedFrom: 'mallory',
      sameNameAs: [bob.id],
    })
    const status = describeEvent(renamed)!
    expect(status.level).toBe('warn')
    expect(status.text).toContain(`WARNING: mallory [${shortId(mallory.id)}] now calls itself bob`)
    expect(status.text).toContain(`[${shortId(bob.id)}]`)
    // Both apps name messages and members by these labels: neither key is plain "bob" any more.
    if (shown.type !== 'message') throw new Error('not a message')
    expect(victim.labels.label(shown.from)).toBe(`bob~${shortId(mallory.id)}`)
    const members = describeMembers(victim.node.members(), victim.labels).join('\n')
    expect(members).toContain(`bob~${shortId(mallory.id)}`)
    expect(members).toContain(`bob~${shortId(bob.id)}`)
    expect(members).not.toMatch(/^bob \[/m)
  })

  it('warns when a direct neighbour comes back under a name in use (a /nick, then a reconnect)', async () => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    bob.say('hi')
    await victim.event(messageFrom(bob.id, 'hi'))
    const keyPair = generateKeyPair()
    const first = await Adversary.dial(victim.address, { name: 'mallory', keyPair })
    cleanups.push(() => first.close())
    await first.join()
    await victim.event((e) => e.type === 'connected' && e.peer.name === 'mallory')
    first.close()
    await victim.event((e) => e.type === 'disconnected' && e.peer.name === 'mallory')
    const again = await Adversary.dial(victim.address, { name: 'bob', keyPair })
    cleanups.push(() => again.close())
    await again.join()
    const renamed = await victim.event((e) => e.type === 'member' && e.renamedFrom === 'mallory')
    expect(renamed).toMatchObject({
      peer: { id: again.id, name: 'bob' },
      via: 'direct',
      sameNameAs: [bob.id],
    })
    expect(describeEvent(renamed)!.text).toContain('now calls itself bob')
    const connected = victim.events.filter((e) => e.type === 'connected' && e.peer.id === again.id)
    expect(connected.at(-1)).toMatchObject({ sameNameAs: [bob.id] })
  })

  it('warns about a rename even when nobody else uses the new name', async () => {
    const victim = await startVictim()
    const relay = await adversary(victim, 'relay')
    const carol = new ForgedOrigin('carol')
    relay.relay(carol.say('one'))
    relay.relay(carol.say('two', { name: 'dave' }))
    const renamed = await victim.event((e) => e.type === 'member' && e.renamedFrom === 'carol')
    expect(renamed).not.toHaveProperty('sameNameAs')
    expect(describeEvent(renamed)).toMatchObject({ level: 'warn' })
    expect(victim.labels.label({ id: carol.id, name: 'dave' })).toBe(`dave~${shortId(carol.id)}`)
  })
})

describe('finding 4: look-alike names', () => {
  it.each([
    ['a zero-width space (relayed)', 'bob\u200b'],
    ['a bidi isolate (relayed)', '\u2066bob\u2069'],
    ['a Cyrillic o', 'b\u043eb'],
    ['capitals', 'BOB'],
    ['fullwidth letters', '\uff42\uff4f\uff42'],
  ])('a member named bob with %s is flagged as the same name as bob', async (_, lookalike) => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    bob.say('hi')
    await victim.event(messageFrom(bob.id, 'hi'))
    const relay = await adversary(victim, 'relay')
    const fake = new ForgedOrigin(lookalike)
    relay.relay(fake.say('it is me'))
    const joined = await victim.event((e) => e.type === 'member' && e.peer.id === fake.id)
    expect(joined).toMatchObject({ sameNameAs: [bob.id] })
    expect(describeEvent(joined)!.text).toContain('WARNING')
    expect(victim.labels.label({ id: bob.id, name: 'bob' })).toBe(`bob~${shortId(bob.id)}`)
  })

  it('flags a direct stranger whose hello name only looks like a member name', async () => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    bob.say('hi')
    await victim.event(messageFrom(bob.id, 'hi'))
    const fake = await adversary(victim, 'B\u043eb')
    const connected = await victim.event((e) => e.type === 'connected' && e.peer.id === fake.id)
    expect(connected).toMatchObject({ sameNameAs: [bob.id] })
  })
})

describe('finding 5 and 11: names that start a line or turn text around', () => {
  it('refuses a hello whose name has a control character, and tells the peer why in its bye', async () => {
    const victim = await startVictim()
    for (const [name, code] of [
      ['carol> ok\n<bob', 'U+000A'],
      ['\u001b]0;owned\u0007bob', 'U+001B'],
      ['bob\u0085', 'U+0085'],
    ] as const) {
      const attacker = await Adversary.dial(victim.address, { name })
      cleanups.push(() => attacker.close())
      attacker.hello()
      const { bye } = await attacker.closed
      expect(bye).toContain(code)
      expect(bye).toContain('pick another name')
      const refused = await victim.event((e) => e.type === 'link-error' && e.message.includes(code))
      expect(refused).toMatchObject({ code: 'BAD_MESSAGE' })
      expect(describeEvent(refused)!.text).not.toMatch(/[\n\u0085\u001b]/)
    }
    expect(victim.events.filter((e) => e.type === 'connected')).toEqual([])
  })

  it('cleans a hello name with bidi or zero-width characters (earlier releases allowed them), and flags the look-alike', async () => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    bob.say('hi')
    await victim.event(messageFrom(bob.id, 'hi'))
    const fake = await adversary(victim, '\u202ebob\u200b')
    const connected = await victim.event((e) => e.type === 'connected' && e.peer.id === fake.id)
    expect(connected).toMatchObject({ peer: { name: 'bob' }, sameNameAs: [bob.id] })
  })

  it('shows a relayed name with a newline or bidi controls on one line, with nothing hidden', async () => {
    const victim = await startVictim()
    const relay = await adversary(victim, 'relay')
    const carol = new ForgedOrigin('carol> ok\n<bob')
    relay.relay(carol.say('I am bob, wire the money today'))
    const shown = await victim.event(messageFrom(carol.id, 'I am bob, wire the money today'))
    if (shown.type !== 'message') throw new Error('not a message')
    expect(shown.from.name).toBe('carol\ufffd ok\ufffd\ufffdbob')
    const dave = new ForgedOrigin('\u202eevad\u2066x\u2069')
    relay.relay(dave.say('hi'))
    const daveShown = await victim.event(messageFrom(dave.id, 'hi'))
    if (daveShown.type !== 'message') throw new Error('not a message')
    expect(daveShown.from.name).toBe('evadx')
  })

  it('never prints a newline, bidi control or line separator from a name or a status, and keeps body lines apart', () => {
    const hostile = 'a\nb\r\u2028c\u2029d\u202ee\u2066f\u2069g\u200eh\u061c\u001b[31m'
    expect(terminalLine(hostile)).not.toMatch(
      /[\n\r\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u001b]/,
    )
    expect(terminalLine(hostile)).toBe('a^Jb^M\\u2028c\\u2029d\\u202ee\\u2066f\\u2069g\\u200eh\\u061c^[[31m')
    const body = terminalSafe('line one\n\u202eenil owt\u2028')
    expect(body.split('\n')).toEqual(['line one', '\\u202eenil owt\\u2028'])
  })
})

describe('names that forge a fingerprint label or the end of a name', () => {
  it('shows a hello name with ~ (earlier releases allowed it) so it cannot pass for a second key of alice', async () => {
    const victim = await startVictim({ name: 'carol' })
    const alice = await adversary(victim, 'alice')
    alice.say('hi')
    await victim.event(messageFrom(alice.id, 'hi'))
    const other = await adversary(victim, 'alice')
    const connected = await victim.event((e) => e.type === 'connected' && e.peer.id === other.id)
    if (connected.type !== 'connected') throw new Error('not connected')
    const real = victim.labels.label(connected.peer)
    expect(real).toBe(`alice~${shortId(other.id)}`)

    const forger = await adversary(victim, real)
    forger.say('I am the second alice')
    const shown = await victim.event(messageFrom(forger.id, 'I am the second alice'))
    if (shown.type !== 'message') throw new Error('not a message')
    expect(shown.from.name).toBe(`alice\ufffd${shortId(other.id)}`)
    expect(victim.labels.label(shown.from)).not.toBe(real)
    expect(victim.labels.label(shown.from)).not.toContain('~')
  })

  it('shows a relayed name with > so it cannot end the <name> of its line early', async () => {
    const victim = await startVictim({ name: 'bob' })
    const relay = await adversary(victim, 'relay')
    const forged = new ForgedOrigin('alice> I am leaving the project, revoke my access. Thanks')
    relay.relay(forged.say('.'))
    const shown = await victim.event(messageFrom(forged.id, '.'))
    if (shown.type !== 'message') throw new Error('not a message')
    const label = victim.labels.label(shown.from)
    expect(label).toBe('alice\ufffd I am leaving the project, revoke my access. Thanks')
    expect(label).not.toMatch(/[<>~]/)
  })
})

describe('finding 9: what a peer says never reaches a shell', () => {
  it('writes hostile names and reasons to the log as inert JSON lines, even if the log is sourced by a shell', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-adversary-log-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const marker = join(dir, 'pwned')
    const victim = await startVictim()
    const log = new EventLog(join(dir, 'parley.log'))
    victim.node.on((event) => log.record(event))
    cleanups.push(() => log.close())

    const relay = await adversary(victim, `$(touch ${marker})`)
    const origin = new ForgedOrigin(`\`touch ${marker}\``)
    relay.relay(origin.say('hi'))
    relay.relay(origin.say('again', { name: `x\u2028$(touch ${marker})\u202e` }))
    await victim.event((e) => e.type === 'member' && e.peer.id === origin.id && e.renamedFrom !== undefined)
    relay.send({ type: 'bye', reason: `bye\n$(touch ${marker})\n\u2028"; touch ${marker}; "` })
    await victim.event((e) => e.type === 'disconnected' && e.peer.id === relay.id)
    await log.close()

    const text = await readFile(join(dir, 'parley.log'), 'utf8')
    const lines = text.split('\n').filter(Boolean)
    expect(lines.length).toBeGreaterThanOrEqual(4)
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow()
      expect(line).not.toMatch(/[$`\u2028\u2029\u202e\u0085]/)
    }
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ event: 'member', peer: `$(touch ${marker})` }),
    )
    // Planted as a shell rc file would be: sourcing it runs no command of the peer's.
    const rc = join(dir, 'rc.sh')
    await writeFile(rc, text)
    const shell = spawnSync('bash', ['-c', `source ${rc}`], { encoding: 'utf8' })
    expect(shell.error).toBeUndefined()
    expect(existsSync(marker)).toBe(false)
  })
})

describe('the adversary itself, as the budget tests will use it', () => {
  it('floods signed messages under the victim rate limit without holding them itself, and all arrive', async () => {
    const victim = await startVictim()
    const attacker = await adversary(victim, 'flooder')
    const origin = new ForgedOrigin('flood')
    const body = 'x'.repeat(2_000)
    let last = ''
    for (let i = 1; i <= 1_500; i++) {
      last = `${i} ${body}`
      // Signed at the end of each burst of 100, as a real member signs: the victim buffers one burst at a
      // time to check it, well within its reorder budget.
      const unsigned = i % 100 !== 0 && i < 1_500
      if (!attacker.send({ ...origin.say(last, { unsigned }) })) await attacker.drained()
    }
    await victim.event(messageFrom(origin.id, last), 30_000)
    expect(victim.events.filter((e) => e.type === 'message' && e.from.id === origin.id)).toHaveLength(1_500)
    expect(attacker.isOpen).toBe(true)
  })
})

describe('finding 1: acks naming many members', () => {
  it.each([
    ['have', 'have'],
    ['bases', 'bases'],
  ] as const)(
    'closes a neighbour whose %s maps name 256 unknown members per ack with OVER_BUDGET, and honest chat goes on',
    async (_, where) => {
      const victim = await startVictim()
      const bob = await adversary(victim, 'bob')
      const attacker = await adversary(victim, 'flooder')
      const frames = 100_000
      const sent = await attacker.floodAcks({ origins: 256, frames, in: where })
      const { bye } = await attacker.closed
      expect(sent).toBeLessThan(frames)
      expect(bye).toMatch(
        /bytes of watermark entries; 160 more would pass its budget of 524288|origins in its acks/,
      )
      const refused = await victim.event((e) => e.type === 'link-error' && e.code === 'OVER_BUDGET')
      expect(describeEvent(refused)!.text).toContain('OVER_BUDGET')
      await victim.event((e) => e.type === 'disconnected' && e.peer.id === attacker.id)
      // Everything it made the node hold went with its link.
      const held = victim.node.held()
      expect(held.links.map((l) => l.peer)).toEqual([bob.id])
      expect(held.total).toBeLessThan(held.budgets.watermarks)
      bob.say('still here')
      await victim.event(messageFrom(bob.id, 'still here'))
    },
  )
})

describe('finding 1: acks naming the same members over and over', () => {
  it('closes a neighbour that names origins in its acks faster than the allowance, though it adds no entry', async () => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    const attacker = await adversary(victim, 'repeater')
    const have = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [new ForgedOrigin(`m${i}`).id, 5]))
    function* repeated(): Generator<Record<string, unknown>> {
      for (let i = 0; i < 100_000; i++) yield { type: 'ack', upTo: 0, have }
    }
    const sent = await attacker.flood(repeated())
    const { bye } = await attacker.closed
    expect(sent).toBeLessThan(100_000)
    expect(bye).toContain('origins in its acks at once, or more than 8192 a second')
    bob.say('still here')
    await victim.event(messageFrom(bob.id, 'still here'))
  })
})

describe('finding 7: reorder buffers and neighbours', () => {
  it('closes each of 8 links sending 10,000-character messages out of order with OVER_BUDGET at its 2 MiB buffer, far under the message cap', async () => {
    const victim = await startVictim()
    const bob = await adversary(victim, 'bob')
    const attackers = await Promise.all(Array.from({ length: 8 }, (_, i) => adversary(victim, `buffer${i}`)))
    const body = 'x'.repeat(9_990)
    const results = await Promise.all(
      attackers.map(async (attacker) => {
        const origin = new ForgedOrigin('far')
        origin.say('withheld') // seq 1 never goes out, so nothing after it can be shown
        function* outOfOrder(): Generator<Msg> {
          for (let seq = 2; seq <= 4_096; seq++) yield { ...origin.say(`${seq} ${body}`, { unsigned: true }) }
        }
        const sent = await attacker.flood(outOfOrder())
        return { sent, ...(await attacker.closed) }
      }),
    )
    const budget = victim.node.held().budgets.buffered
    for (const { sent, bye } of results) {
      expect(sent).toBeLessThan(4_095)
      // The link held just under its budget when the message that would not fit arrived; that one was
      // never counted.
      const [, held, more] =
        /holds (\d+) bytes of buffered messages; (\d+) more would pass its budget of (\d+)/
          .exec(bye ?? '')!
          .map(Number)
      expect(held).toBeLessThanOrEqual(budget)
      expect(held! + more!).toBeGreaterThan(budget)
      // One of its messages (seqs of 3 or 4 digits), counted as the rate limit counts it.
      const longest = weigh(new ForgedOrigin('far').say(`4096 ${body}`, { unsigned: true }))
      expect(more).toBeGreaterThanOrEqual(longest - 1)
      expect(more).toBeLessThanOrEqual(longest)
    }
    const refused = victim.events.filter((e) => e.type === 'link-error' && e.code === 'OVER_BUDGET')
    expect(refused).toHaveLength(8)
    bob.say('still here')
    await victim.event(messageFrom(bob.id, 'still here'))
    for (const attacker of attackers)
      await victim.event((e) => e.type === 'disconnected' && e.peer.id === attacker.id)
    expect(victim.node.held().links.map((l) => l.peer)).toEqual([bob.id])
  })

  it('closes the neighbour holding the most when all links are full, so parked attackers cannot keep an honest burst out', async () => {
    const victim = await startVictim({ budgets: { buffered: 64 * 1024, total: 256 * 1024 } })
    const body = 'x'.repeat(5_000)
    // Four attackers each park 11 messages that can never be shown, just under their own budget.
    const parked = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const attacker = await adversary(victim, `parked${i}`)
        const origin = new ForgedOrigin('far')
        origin.say('withheld')
        for (let n = 0; n < 11; n++) attacker.relay(origin.say(body, { unsigned: true }))
        attacker.send({ type: 'ping', n: 4242 })
        await attacker.waitFor((m) => m.type === 'pong' && m.n === 4242)
        return attacker
      }),
    )
    const held = victim.node.held()
    expect(held.total).toBeGreaterThan(held.budgets.total - 10 * 5_300)
    // An honest relay's burst of ten such messages needs room that only closing a parked one makes.
    const relay = await adversary(victim, 'relay')
    const carol = new ForgedOrigin('carol')
    for (let n = 1; n <= 10; n++) relay.relay(carol.say(`${n} ${body}`, { unsigned: n < 10 }))
    await victim.event(messageFrom(carol.id, `10 ${body}`))
    expect(victim.events.filter((e) => e.type === 'message' && e.from.id === carol.id)).toHaveLength(10)
    expect(relay.isOpen).toBe(true)
    const closed = await Promise.race(parked.map((a) => a.closed))
    expect(closed.bye).toContain('held the most buffered messages')
  })

  it('refuses a neighbour past the cap with TOO_MANY_NEIGHBORS, and lets one in again once a place is free', async () => {
    const victim = await startVictim({ maxNeighbors: 3 })
    const first = await adversary(victim, 'one')
    await adversary(victim, 'two')
    await adversary(victim, 'three')
    const extra = await Adversary.dial(victim.address, { name: 'four' })
    cleanups.push(() => extra.close())
    await extra.join().catch(() => undefined)
    const { bye } = await extra.closed
    expect(bye).toContain('already has 3 direct neighbours')
    const refused = await victim.event((e) => e.type === 'link-error' && e.code === 'TOO_MANY_NEIGHBORS')
    expect(describeEvent(refused)!.text).toContain('TOO_MANY_NEIGHBORS')
    expect(victim.events.some((e) => e.type === 'connected' && e.peer.id === extra.id)).toBe(false)
    first.close()
    await victim.event((e) => e.type === 'disconnected' && e.peer.id === first.id)
    const again = await adversary(victim, 'four again')
    again.say('in')
    await victim.event(messageFrom(again.id, 'in'))
  })
})

describe('reconnecting to pull every window again', () => {
  /** A relay fills the victim's windows: 4 members, 25 messages of 2,000 characters each. */
  async function fill(victim: Victim) {
    const filler = await adversary(victim, 'filler')
    const members = Array.from({ length: 4 }, (_, i) => new ForgedOrigin(`member${i}`))
    let windows = 0
    let longest = 0
    for (const member of members)
      for (let n = 1; n <= 25; n++) {
        const msg = member.say(`${n} ${'x'.repeat(2_000)}`, { unsigned: n < 25 })
        windows += weigh(msg)
        longest = Math.max(longest, weigh(msg))
        filler.relay(msg)
      }
    const fromMembers = (e: NodeEvent) => e.type === 'message' && members.some((m) => m.id === e.from.id)
    for (const member of members) await victim.event(messageFrom(member.id, `25 ${'x'.repeat(2_000)}`))
    expect(victim.events.filter(fromMembers)).toHaveLength(100)
    filler.close()
    await victim.event((e) => e.type === 'disconnected' && e.peer.id === filler.id)
    return { members, windows, longest }
  }

  /**
   * A throwaway key links, says it has nothing, says a line and goes once that line is acked. What the
   * victim serves at link open it writes as the link resumes, before it takes that line (so before its
   * ack): the bytes of every message received by then.
   */
  async function pull(victim: Victim, name: string): Promise<number> {
    const puller = await adversary(victim, name)
    puller.say('anything new?')
    await puller.waitFor((m) => m.type === 'ack' && m.upTo >= 1)
    puller.close()
    return puller.inbox.reduce((sum, m) => sum + (m.type === 'msg' ? weigh(m) : 0), 0)
  }

  it('serves throwaway keys that reconnect and say they have nothing the allowance of their host, not every window each time', async () => {
    // Allowances that barely refill, so that what can be served is the bursts alone: at 1 byte a second,
    // this test, which fails past a minute, adds at most REFILL bytes to each.
    const REFILL = 60
    // Bursts under the 64 KiB a link takes in one turn before it pushes back, so that all a pull may get
    // is written as its link resumes.
    const catchUp = {
      perKey: { perSecond: 1, burst: 24 * 1024 },
      perSource: { perSecond: 1, burst: 40 * 1024 },
      total: { perSecond: 1, burst: 1024 * 1024 },
    }
    const victim = await startVictim({ budgets: { catchUp } })
    const { windows, longest } = await fill(victim)

    // Six throwaway keys, one after another, from one host.
    const pulls: number[] = []
    for (let i = 0; i < 6; i++) pulls.push(await pull(victim, `pull${i}`))
    const served = pulls.reduce((a, b) => a + b, 0)
    // The first key gets its own allowance whole, and the host's is spent by the keys after it...
    expect(pulls[0]).toBeGreaterThan(catchUp.perKey.burst - longest)
    expect(pulls[0]).toBeLessThanOrEqual(catchUp.perKey.burst + REFILL)
    expect(served).toBeGreaterThan(catchUp.perSource.burst - longest)
    // ...and no more, where each pull used to get every window: six times as much.
    expect(served).toBeLessThanOrEqual(catchUp.perSource.burst + REFILL)
    expect(6 * windows).toBeGreaterThan(10 * catchUp.perSource.burst)
  }, 60_000)

  it('gives an honest newcomer from a host whose allowance throwaway keys spent every message once, in order', async () => {
    const catchUp = {
      perKey: { perSecond: 64 * 1024, burst: 96 * 1024 },
      perSource: { perSecond: 64 * 1024, burst: 128 * 1024 },
      total: { perSecond: 128 * 1024, burst: 256 * 1024 },
    }
    const victim = await startVictim({ budgets: { catchUp } })
    const { members } = await fill(victim)
    for (let i = 0; i < 2; i++) await pull(victim, `pull${i}`)

    // It gets every message, however long the allowance makes it take; its own line is taken meanwhile.
    const honest = await adversary(victim, 'honest')
    honest.say('hello, new here')
    await victim.event(messageFrom(honest.id, 'hello, new here'))
    await honest.waitFor((m) => m.type === 'ack' && m.upTo >= 1)
    for (const member of members)
      await honest.waitFor((m) => m.type === 'msg' && m.from === member.id && m.seq === 25, 45_000)
    // A later line's ack comes after any copy written before it: none came twice.
    honest.say('got it all')
    await honest.waitFor((m) => m.type === 'ack' && m.upTo >= 2)
    const got = honest.inbox.filter((m): m is Msg => m.type === 'msg' && members.some((x) => x.id === m.from))
    for (const member of members)
      expect(got.filter((m) => m.from === member.id).map((m) => m.seq)).toEqual(
        Array.from({ length: 25 }, (_, i) => i + 1),
      )
    expect(got).toHaveLength(100)
    expect(honest.isOpen).toBe(true)
  }, 60_000)
})

describe('finding 6: catch-up that a false claim cannot censor', () => {
  it('shows message 1 that a relay withheld behind a false bases claim, once an honest neighbour that has it links up', async () => {
    const victim = await startVictim()
    const liar = await adversary(victim, 'liar')
    const olive = new ForgedOrigin('olive')
    const one = olive.say('one: the line the relay withheld')
    const two = olive.say('two')
    liar.ack({ upTo: 0, bases: { [olive.id]: 1 } })
    liar.relay(two)
    await victim.event(messageFrom(olive.id, 'two'))

    // Carol, a real node, has both through an honest relay, then links to the victim.
    const carol = await startVictim({ name: 'carol' })
    const feeder = await adversary(carol, 'feeder')
    feeder.relay(one)
    feeder.relay(two)
    await carol.event(messageFrom(olive.id, 'two'))
    carol.node.connect(victim.address)
    const late = await victim.event(messageFrom(olive.id, 'one: the line the relay withheld'))
    expect(late).toMatchObject({ seq: 1, from: { id: olive.id } })
    expect(victim.events.filter(messageFrom(olive.id, 'two'))).toHaveLength(1)
    expect(victim.events.filter(messageFrom(olive.id, 'one: the line the relay withheld'))).toHaveLength(1)
  })

  it('closes a neighbour whose copy of the withheld message does not chain to the signed message after it', async () => {
    const victim = await startVictim()
    const liar = await adversary(victim, 'liar')
    const olive = new ForgedOrigin('olive')
    const one = olive.say('the real line')
    const two = olive.say('two')
    liar.ack({ upTo: 0, bases: { [olive.id]: 1 } })
    liar.relay(two)
    await victim.event(messageFrom(olive.id, 'two'))
    const forger = await adversary(victim, 'forger')
    forger.relay({ ...one, body: 'a line olive never wrote' })
    const { bye } = await forger.closed
    expect(bye).toContain('do not carry its valid signature')
    const honest = await adversary(victim, 'honest')
    honest.relay(one)
    await victim.event(messageFrom(olive.id, 'the real line'))
    expect(victim.events.some(messageFrom(olive.id, 'a line olive never wrote'))).toBe(false)
  })
})

describe('a member that restarted without its journal: its old numbering replayed', () => {
  it('shows the new numbering from its own link, never the old one again, and acks only what it showed', async () => {
    // Durable, as the CLI is: it knows alice's epoch across her links, so her new one resets her.
    const dir = await mkdtemp(join(tmpdir(), 'parley-epoch-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const log = await AppendLog.open(join(dir, 'journal.log'))
    cleanups.push(() => log.close())
    const victim = await startVictim({ journal: { append: (records) => log.append(records) } })
    const aliceKey = generateKeyPair()
    const aliceId = Buffer.from(aliceKey.publicKey).toString('hex')
    const connectedToAlice = () =>
      victim.events.filter((e) => e.type === 'connected' && e.peer.id === aliceId)
    const alice = await Adversary.dial(victim.address, { name: 'alice', keyPair: aliceKey })
    cleanups.push(() => alice.close())
    await alice.join()
    const old = ['old 1', 'old 2', 'old 3'].map((body) => alice.say(body, { ts: Date.now() - 60_000 }))
    await victim.event(messageFrom(aliceId, 'old 3'))
    alice.close()
    await victim.event((e) => e.type === 'disconnected' && e.peer.id === aliceId)
    const mallory = await adversary(victim, 'mallory')

    // Alice is back with a new numbering (her journal moved away): from seq 1 and her genesis again. Its
    // hello carries a new epoch, as every hello of the adversary does.
    const again = await Adversary.dial(victim.address, { name: 'alice', keyPair: aliceKey })
    cleanups.push(() => again.close())
    await again.join()
    await victim.event(() => connectedToAlice().length === 2)
    for (const msg of old) mallory.relay(msg)
    // A line of mallory's after them: once it is shown, the victim has taken all it sent before.
    mallory.say('relayed')
    await victim.event(messageFrom(mallory.id, 'relayed'))
    const fresh = new ForgedOrigin('alice', aliceKey)
    for (const body of ['NEW 1', 'NEW 2', 'NEW 3']) again.relay(fresh.say(body))
    await victim.event(messageFrom(aliceId, 'NEW 3'))
    // The old ones once more, now that her new numbering has begun: older than it, so not hers to show.
    for (const msg of old) mallory.relay(msg)
    const ack = await again.waitFor((m) => m.type === 'ack' && m.upTo >= 3)
    expect(ack).toMatchObject({ upTo: 3 })
    mallory.say('still here')
    await victim.event(messageFrom(mallory.id, 'still here'))
    const shown = victim.events.flatMap((e) =>
      e.type === 'message' && e.from.id === aliceId ? [e.body] : [],
    )
    expect(shown).toEqual(['old 1', 'old 2', 'old 3', 'NEW 1', 'NEW 2', 'NEW 3'])
    // The relay may have held the old ones honestly: its link stays.
    expect(victim.events.some((e) => e.type === 'disconnected' && e.peer.id === mallory.id)).toBe(false)
    // The journal recalls how far her old numbering went, for a restart of the victim before she speaks.
    const records = (await log.readAll()) as JournalRecord[]
    const resets = records.filter((r) => r.t === 'peer' && r.peer.id === aliceId && r.after !== undefined)
    expect(resets).toEqual([expect.objectContaining({ after: old.at(-1)!.ts })])
  })
})

describe('findings 2 and 10: membership strangers cannot fill, first contacts they cannot take', () => {
  interface Member {
    readonly node: ParleyNode
    readonly events: NodeEvent[]
    /** Resolves with the first event (already seen or later) that `match` accepts. */
    event(match: (event: NodeEvent) => boolean, timeoutMs?: number): Promise<NodeEvent>
  }

  /** An honest node over the real secure transport, signing its messages. */
  async function member(name: string, options: Partial<NodeOptions> = {}): Promise<Member> {
    const keyPair = generateKeyPair()
    const node = new ParleyNode({
      transport: createSecureTransport(createTcpTransport(), { keyPair }),
      id: Buffer.from(keyPair.publicKey).toString('hex'),
      name,
      listen: '127.0.0.1:0',
      auth: createMessageAuth(keyPair),
      ...options,
    })
    cleanups.push(() => node.close())
    const events: NodeEvent[] = []
    const waiters = new Set<() => void>()
    node.on((event) => {
      events.push(event)
      for (const waiter of [...waiters]) waiter()
    })
    await node.start()
    const event = (match: (event: NodeEvent) => boolean, timeoutMs = 30_000) =>
      new Promise<NodeEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no such event within ${timeoutMs} ms; got ${JSON.stringify(events.slice(-6))}`))
        }, timeoutMs)
        const check = () => {
          const found = events.find(match)
          if (!found) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        waiters.add(check)
        check()
      })
    return { node, events, event }
  }

  const tooManyMembers = (e: NodeEvent) => e.type === 'link-error' && e.code === 'TOO_MANY_ORIGINS'

  /** The hello of a throwaway key: it keeps one epoch, so coming back is not a restart. */
  const throwawayHello = (i: number) => ({ caps: [`instance:t${i}`, `epoch:t${i}`, ROOM_CAP] })

  /** Throwaway keys, one after another: each completes the handshake, says one line and leaves. */
  async function throwaways(victim: Member, count: number, tag: string) {
    const keys: { attacker: Adversary; line: Msg }[] = []
    for (let i = 0; i < count; i++) {
      const attacker = await Adversary.dial(victim.node.address, { name: `${tag}${i}` })
      cleanups.push(() => attacker.close())
      await attacker.join(throwawayHello(i))
      const line = attacker.say(`${tag} ${i}`)
      await victim.event(messageFrom(attacker.id, `${tag} ${i}`))
      attacker.close()
      await victim.event((e) => e.type === 'disconnected' && e.peer.id === attacker.id)
      keys.push({ attacker, line })
    }
    return keys
  }

  it('finding 2 (cap 100 and 110 throwaway keys, the finding scaled down from 1,000 and 1,100): an honest member who joins later is never refused, before or after a restart', async () => {
    const cap = 100
    const records: JournalRecord[] = []
    const journal = { append: async (r: readonly JournalRecord[]) => void records.push(...r) }
    const aliceKeys = generateKeyPair()
    const aliceId = Buffer.from(aliceKeys.publicKey).toString('hex')
    const aliceOptions = (listen: Address) => ({
      transport: createSecureTransport(createTcpTransport(), { keyPair: aliceKeys }),
      id: aliceId,
      listen,
      auth: createMessageAuth(aliceKeys),
      maxOrigins: cap,
      journal,
    })
    const alice = await member('alice', aliceOptions('127.0.0.1:0'))
    const bob = await member('bob', { peers: [alice.node.address] })
    await alice.event((e) => e.type === 'connected' && e.peer.id === bob.node.id)

    const spam = await throwaways(alice, cap + cap / 10, 'spam')
    // Carol joins through bob afterwards: her words reach alice, and bob, the honest relay, stays.
    const carol = await member('carol', { peers: [bob.node.address] })
    await bob.event((e) => e.type === 'connected' && e.peer.id === carol.node.id)
    carol.node.send('hi from carol')
    await alice.event(messageFrom(carol.node.id, 'hi from carol'))
    // Dave dials alice himself: a newcomer neighbour gets a place too.
    const dave = await member('dave', { peers: [alice.node.address] })
    dave.node.send('hi from dave')
    await alice.event(messageFrom(dave.node.id, 'hi from dave'))
    expect(alice.events.filter(tooManyMembers)).toEqual([])
    expect(alice.events.filter((e) => e.type === 'disconnected' && e.peer.id === bob.node.id)).toEqual([])
    expect(alice.node.members().length).toBeLessThanOrEqual(cap)
    const held = alice.node.members().map((m) => m.peer.id)
    expect(held).toEqual(expect.arrayContaining([bob.node.id, carol.node.id, dave.node.id]))

    // The restart: the journal holds every stranger, the restored node must not be full of them.
    await alice.node.close()
    const restored = restore(records, { id: aliceId, name: 'alice' })
    expect(restored.peers.size).toBeGreaterThan(cap)
    const again = await member('alice', { ...aliceOptions('127.0.0.1:0'), restored })
    expect(again.node.members().length).toBeLessThanOrEqual(cap)
    bob.node.connect(again.node.address)
    await again.event((e) => e.type === 'connected' && e.peer.id === bob.node.id)
    // A stranger of before the restart comes back and repeats its line: it is dropped, its next one shown.
    const [first] = spam
    const repeat = await Adversary.dial(again.node.address, { keyPair: first!.attacker.self.keyPair })
    cleanups.push(() => repeat.close())
    await repeat.join(throwawayHello(0))
    repeat.relay(first!.line)
    repeat.relay(first!.attacker.self.say('spam 0, the next line'))
    await again.event(messageFrom(repeat.id, 'spam 0, the next line'))
    expect(again.events.filter((e) => e.type === 'message' && e.body === 'spam 0')).toEqual([])
    // Erin, new, joins through bob after the restart.
    const erin = await member('erin', { peers: [bob.node.address] })
    await bob.event((e) => e.type === 'connected' && e.peer.id === erin.node.id)
    erin.node.send('hi from erin')
    await again.event(messageFrom(erin.node.id, 'hi from erin'))
    expect(again.events.filter(tooManyMembers)).toEqual([])
    expect(again.node.members().length).toBeLessThanOrEqual(cap)
  }, 120_000)

  it('finding 10: a stranger that dials in announcing the address being dialed (no pin) does not take the dial; the real peer gets its session', async () => {
    const bob = await member('bob')
    // Alice reaches bob through a door that holds her connection until the stranger is in.
    const door = await heldDoor(bob.node.address)
    const alice = await member('alice', { peers: [door.address] })
    await door.knocked
    const stranger = await Adversary.dial(alice.node.address, { name: 'bob', listen: door.address })
    cleanups.push(() => stranger.close())
    await stranger.join()
    await alice.event((e) => e.type === 'connected' && e.peer.id === stranger.id)
    // Her opening ack to the stranger comes after the session opened: the dial rule has run by then.
    await stranger.waitFor((m) => m.type === 'ack')
    expect(alice.node.peerStates()).toMatchObject([{ target: door.address, state: { status: 'connecting' } }])

    door.open()
    await alice.event((e) => e.type === 'connected' && e.peer.id === bob.node.id)
    await alice.event(
      (e) =>
        e.type === 'peer-state' &&
        e.target === door.address &&
        e.state.status === 'connected' &&
        e.state.peer.id === bob.node.id,
    )
    await bob.event((e) => e.type === 'connected' && e.peer.id === alice.node.id)
    alice.node.send('hello bob')
    await bob.event((e) => e.type === 'message' && e.body === 'hello bob')
    // The stranger is just another member: still connected, never the peer alice dialed.
    expect(stranger.isOpen).toBe(true)
    expect(alice.node.peerStates().map((p) => p.state)).toMatchObject([
      { status: 'connected', peer: { id: bob.node.id } },
    ])
  })

  it('finding 10, as the launcher wires it: a pin (--peer-key) lets the pinned key dialing in stand for the dial, and nobody else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-adversary-pin-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    // Nothing answers behind the door: only a peer dialing in can make alice's dial connected.
    const door = await heldDoor('127.0.0.1:9')
    const bobKeys = generateKeyPair()
    const bobId = Buffer.from(bobKeys.publicKey).toString('hex')
    const flags = parseFlags(
      [
        '--data-dir',
        dir,
        '--listen',
        '127.0.0.1:0',
        '--name',
        'alice',
        '--peer',
        door.address,
        '--peer-key',
        bobId,
      ],
      {},
    )
    const events: NodeEvent[] = []
    const started = await startNode(flags, (e) => events.push(e))
    cleanups.push(() => started.node.close())
    const address = started.node.address
    await door.knocked

    const stranger = await Adversary.dial(address, { name: 'bob', listen: door.address })
    cleanups.push(() => stranger.close())
    stranger.hello()
    // The stranger announces the pinned address with another key: refused, and the dial untouched.
    const { bye } = await stranger.closed
    expect(bye).toContain('pinned')
    expect(started.node.peerStates()).toMatchObject([
      { target: door.address, state: { status: 'connecting' } },
    ])

    const bob = await Adversary.dial(address, { name: 'bob', keyPair: bobKeys, listen: door.address })
    cleanups.push(() => bob.close())
    await bob.join()
    await bob.waitFor((m) => m.type === 'ack')
    expect(started.node.peerStates()).toMatchObject([
      { target: door.address, state: { status: 'connected', peer: { id: bobId } } },
    ])
  })
})

/**
 * A TCP door to `target` on port 0: it accepts at once but forwards nothing until `open()`, so a dial
 * through it stays in flight as long as a test needs.
 */
async function heldDoor(target: Address) {
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    Number(target.slice(target.lastIndexOf(':') + 1)),
  ]
  const held: Socket[] = []
  let opened = false
  let knock: () => void = () => undefined
  const knocked = new Promise<void>((resolve) => {
    knock = resolve
  })
  const forward = (socket: Socket) => {
    const upstream = connect(port, host)
    socket.pipe(upstream).pipe(socket)
    const end = () => {
      socket.destroy()
      upstream.destroy()
    }
    socket.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  }
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy())
    knock()
    if (opened) forward(socket)
    else {
      socket.pause()
      held.push(socket)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of held) socket.destroy()
        server.close(() => resolve())
      }),
  )
  const { port: doorPort } = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${doorPort}` as Address,
    knocked,
    open() {
      opened = true
      for (const socket of held.splice(0)) forward(socket)
    },
  }
}

describe('finding 8: filling the disk', () => {
  const KiB = 1024
  const quota: JournalQuota = { perOrigin: 256 * KiB, total: 640 * KiB }
  const body = (i: number) => `${i} ${'x'.repeat(10_000 - String(i).length - 1)}`
  /** One signed 10,000-character message as the journal holds it, with room for its name and framing. */
  const MESSAGE_BYTES = 10_600

  /** A victim with a real journal on disk that counts what each member makes it hold. */
  async function journaledVictim(dir: string, keyPair: KeyPair) {
    const log = await AppendLog.open(join(dir, 'journal.log'), { accountOf: journalOrigin })
    const id = Buffer.from(keyPair.publicKey).toString('hex')
    const restored = restore(log.records as JournalRecord[], { id, name: 'alice' })
    const node = new ParleyNode({
      transport: createSecureTransport(createTcpTransport(), { keyPair }),
      id,
      name: 'alice',
      listen: '127.0.0.1:0',
      auth: createMessageAuth(keyPair),
      journal: { append: (records) => log.append(records), usage: log.usage },
      restored,
      journalQuota: quota,
    })
    const events: NodeEvent[] = []
    const waiters = new Set<() => void>()
    node.on((event) => {
      events.push(event)
      for (const waiter of [...waiters]) waiter()
    })
    const stop = async () => {
      await node.close()
      await log.close()
    }
    cleanups.push(stop)
    const address = await node.start()
    const until = (done: () => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`still waiting for ${what}`)), 60_000)
        const check = () => {
          if (!done()) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
        check()
      })
    const shown = (origin: string) =>
      events.filter((e) => e.type === 'message' && e.from.id === origin).length
    const overQuota = () => events.filter((e) => e.type === 'link-error' && e.code === 'OVER_QUOTA').length
    return { node, log, address, events, until, shown, overQuota, stop }
  }

  /** Sends up to `most` signed 10,000-character messages, then waits for the victim to drop the link. */
  async function flood(attacker: Adversary, most: number): Promise<void> {
    for (let sent = 1; attacker.isOpen && sent <= most; sent++) {
      if (!attacker.send({ ...attacker.self.say(body(sent)) })) await attacker.drained()
    }
    await attacker.closed
  }

  it('refuses identities with OVER_QUOTA past their own quota and then the total, keeps running, and still after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-adversary-disk-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const victimKey = generateKeyPair()
    const victim = await journaledVictim(dir, victimKey)
    const before = victim.log.size

    // Four identities, one after another, each with far more than its quota to send.
    const attackers: Adversary[] = []
    for (let i = 0; i < 4; i++) {
      const attacker = await Adversary.dial(victim.address, { name: `filler-${i}` })
      cleanups.push(() => attacker.close())
      await attacker.join()
      attackers.push(attacker)
      // 2 MB each, eight times the quota of one.
      await flood(attacker, 200)
      const { bye, code } = await attacker.closed
      expect(bye).toMatch(/disk/)
      // The code goes with the reason, so the refused end can back off rather than redial at once.
      expect(code).toBe('OVER_QUOTA')
      await victim.until(() => victim.overQuota() === i + 1, `OVER_QUOTA for filler-${i}`)
    }
    const usage = victim.log.usage
    const held = attackers.map((a) => usage.bytesOf(a.id))
    // The first two fill their own quota (and at most one message past it), the third what the total has
    // left, and the fourth what the third left of it (nothing, or one message where the third was turned
    // away just short of the total: a message counts at an estimate of its record's size until the journal
    // holds it) and the record of its session.
    for (const bytes of held.slice(0, 2)) {
      expect(bytes).toBeGreaterThanOrEqual(quota.perOrigin)
      expect(bytes).toBeLessThan(quota.perOrigin + MESSAGE_BYTES)
    }
    expect(held[2]).toBeGreaterThan(0)
    expect(held[2]).toBeLessThan(quota.perOrigin)
    expect(victim.shown(attackers[3]!.id)).toBeLessThanOrEqual(1)
    expect(held[3]).toBeLessThan(1_000 + MESSAGE_BYTES)
    expect(usage.total).toBeGreaterThanOrEqual(quota.total)
    expect(usage.total).toBeLessThan(quota.total + MESSAGE_BYTES)
    // The whole attack grew the journal by the total quota, give or take one message and the sessions.
    expect(victim.log.size - before).toBeLessThan(quota.total + 2 * MESSAGE_BYTES)

    // The node keeps running, and its own messages are never refused.
    const own = victim.node.send('still here')
    await own.durable
    const accounts = usage.accounts()
    await victim.stop()

    // After a restart the journal is counted again, and the first filler is refused on its first word.
    const reopened = await journaledVictim(dir, victimKey)
    expect(reopened.log.usage.accounts()).toEqual(accounts)
    expect(reopened.node.history.some((e) => e.direction === 'out' && e.body === 'still here')).toBe(true)
    const first = attackers[0]!
    const back = await Adversary.dial(reopened.address, { name: 'filler-0', keyPair: first.self.keyPair })
    cleanups.push(() => back.close())
    await back.join()
    back.relay(first.self.say('back after the restart'))
    const { bye } = await back.closed
    expect(bye).toMatch(/share of this node's disk/)
    await reopened.until(() => reopened.overQuota() === 1, 'OVER_QUOTA after the restart')
    expect(reopened.shown(first.id)).toBe(0)
  }, 120_000)

  it('a neighbour refused with OVER_QUOTA redials later and later, told once in one line, and loses nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-adversary-refused-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const victim = await journaledVictim(dir, generateKeyPair())
    const keyPair = generateKeyPair()
    const chatty = new ParleyNode({
      transport: createSecureTransport(createTcpTransport(), { keyPair }),
      id: Buffer.from(keyPair.publicKey).toString('hex'),
      name: 'chatty',
      listen: '127.0.0.1:0',
      auth: createMessageAuth(keyPair),
      peers: [victim.address],
      // Waits short enough for a test; the default starts at 10 s and doubles up to 10 minutes.
      backoff: { baseMs: 50, maxMs: 200, jitter: 0, stableMs: 60_000, refused: { baseMs: 100, maxMs: 400 } },
    })
    const events: NodeEvent[] = []
    const waiters = new Set<() => void>()
    chatty.on((event) => {
      events.push(event)
      for (const waiter of [...waiters]) waiter()
    })
    cleanups.push(() => chatty.close())
    await chatty.start()
    // Far more than its share of the victim's disk.
    for (let i = 1; i <= 60; i++) chatty.send(body(i))
    const refusals = () =>
      events.flatMap((e) =>
        e.type === 'peer-state' && e.state.status === 'reconnecting' && e.state.refused
          ? [e.state.refused]
          : [],
      )
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still waiting for 4 refusals')), 60_000)
      const check = () => {
        if (refusals().length < 4) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve()
      }
      waiters.add(check)
      check()
    })
    await chatty.close()
    // Each wait doubles from the first up to the cap, and each redial met the same refusal: one dial each.
    expect(refusals().map(({ by, code, times, retryMs }) => ({ by, code, times, retryMs }))).toEqual(
      [100, 200, 400, 400].map((retryMs, i) => ({ by: 'peer', code: 'OVER_QUOTA', times: i + 1, retryMs })),
    )
    const dials = () => victim.events.filter((e) => e.type === 'connected' && e.peer.name === 'chatty').length
    await victim.until(() => victim.overQuota() >= 4, 'the victim to refuse each dial')
    expect(dials()).toBe(4)
    // Told once in one line, with what to do; the redials say nothing.
    const lines = events.flatMap((e) => {
      const line = describeEvent(e)
      return line ? [line.text] : []
    })
    expect(lines.filter((l) => /refuses your messages/.test(l))).toEqual([
      expect.stringMatching(/\[OVER_QUOTA\]; they wait in your outbox, none is lost; .*--disk-quota$/),
    ])
    expect(lines.filter((l) => /^(connected to|disconnected from|reconnecting to) /.test(l))).toHaveLength(1)
    // Nothing is lost: what was refused still waits in the outbox.
    expect(chatty.pending).toBeGreaterThan(0)
  }, 120_000)
})

describe('presence: a stranger that lies about who is in the room', () => {
  it('floods presences of throwaway keys: it fills no more than the member table, and is cut off past the rate', async () => {
    const victim = await startVictim({ maxOrigins: 30 })
    const attacker = await Adversary.dial(victim.address, { name: 'relay', presence: true })
    cleanups.push(() => attacker.close())
    await attacker.join()
    const frames = function* () {
      for (let i = 0; i < 2_000; i++)
        yield new ForgedOrigin(`k${i}`).here() as unknown as Record<string, unknown>
    }
    await attacker.flood(frames())
    const closed = await attacker.closed
    expect(closed.code).toBe('FLOOD')
    expect(victim.node.members().length).toBeLessThanOrEqual(30)
    const error = await victim.event((e) => e.type === 'link-error' && e.code === 'FLOOD')
    expect(describeEvent(error)!.text).toContain('presence frames')
  })

  it('replays a member’s old presence after it left: ignored, the member is not shown as there', async () => {
    const victim = await startVictim()
    const attacker = await Adversary.dial(victim.address, { name: 'relay', presence: true })
    cleanups.push(() => attacker.close())
    await attacker.join()
    const carol = new ForgedOrigin('carol')
    const there = carol.here('here', { ts: Date.now() - 1_000 })
    attacker.send(there as unknown as Record<string, unknown>)
    await victim.event((e) => e.type === 'member' && e.peer.id === carol.id)
    attacker.send(carol.here('gone') as unknown as Record<string, unknown>)
    await victim.event((e) => e.type === 'member-left' && e.peer.id === carol.id)
    // The old `here`, as captured, and one forged under carol's id without her key.
    attacker.send(there as unknown as Record<string, unknown>)
    // Dated after carol's `gone` (a second ahead, within the allowed skew), so it is judged by its signature.
    attacker.send({ ...there, ts: Date.now() + 1_000 })
    const closed = await attacker.closed
    expect(closed.code).toBe('FORGED')
    expect(victim.node.members().find((m) => m.peer.id === carol.id)).toMatchObject({ present: false })
    expect(victim.events.filter((e) => e.type === 'member' && e.peer.id === carol.id)).toHaveLength(1)
  })
})
