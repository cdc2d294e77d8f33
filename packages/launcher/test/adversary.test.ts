/**
 * An authenticated stranger against a real node: the adversary completes a real Noise handshake with a
 * throwaway key and speaks the real protocol, then lies about names. Each test is one finding of the
 * "a stranger can't hurt you" review, and proves what the frontends get from the node and the launcher
 * (events, labels, status lines, log lines). What the CLI prints is proven end to end in apps/cli.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Adversary, ForgedOrigin } from '@parley/adversary'
import {
  type Address,
  type JournalQuota,
  type JournalRecord,
  journalOrigin,
  type NodeEvent,
  ParleyNode,
  restore,
} from '@parley/core'
import { createMessageAuth, createSecureTransport, generateKeyPair, type KeyPair } from '@parley/secure'
import { AppendLog } from '@parley/store'
import { createTcpTransport } from '@parley/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import {
  describeEvent,
  describeMembers,
  EventLog,
  PeerLabels,
  shortId,
  terminalLine,
  terminalSafe,
} from '../src/index.js'

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

async function startVictim(): Promise<Victim> {
  const keyPair = generateKeyPair()
  const node = new ParleyNode({
    transport: createSecureTransport(createTcpTransport(), { keyPair }),
    id: Buffer.from(keyPair.publicKey).toString('hex'),
    name: 'alice',
    listen: '127.0.0.1:0',
    auth: createMessageAuth(keyPair),
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
    expect(shown.from.name).toBe('carol> ok\ufffd<bob')
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
      // Unsigned but the last: as a burst, which the victim verifies at its signature.
      if (!attacker.send({ ...origin.say(last, { unsigned: i < 1_500 }) })) await attacker.drained()
    }
    await victim.event(messageFrom(origin.id, last), 30_000)
    expect(victim.events.filter((e) => e.type === 'message' && e.from.id === origin.id)).toHaveLength(1_500)
    expect(attacker.isOpen).toBe(true)
  })
})

describe('next: the budget findings, for the adversary to prove once the limits exist', () => {
  it.todo(
    'finding 1: acks whose have/bases name 256 new origins each, sent without pause, keep RSS within the per-peer budget and the node alive',
  )
  it.todo(
    'finding 2: 1,100 throwaway keys that each send one line and leave never make an honest member that joins later refused with TOO_MANY_ORIGINS, before or after a restart',
  )
  it.todo(
    'finding 6: a relay that withholds message 1 of an origin and claims bases {origin: 1} does not make the node skip message 1 when an honest neighbour has it',
  )
  it.todo(
    'finding 7: 8 links each sending 4,095 out-of-order 10,000-character messages stay within the documented per-neighbour buffer budget; the number of neighbours is capped',
  )
  it.todo(
    'finding 10: an inbound stranger announcing the address being dialed without a pin does not satisfy the dial; the real peer still gets its session',
  )
})

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
      const { bye } = await attacker.closed
      expect(bye).toMatch(/disk/)
      await victim.until(() => victim.overQuota() === i + 1, `OVER_QUOTA for filler-${i}`)
    }
    const usage = victim.log.usage
    const held = attackers.map((a) => usage.bytesOf(a.id))
    // The first two fill their own quota (and at most one message past it), the third what the total has
    // left, and the fourth only the record of its session.
    for (const bytes of held.slice(0, 2)) {
      expect(bytes).toBeGreaterThanOrEqual(quota.perOrigin)
      expect(bytes).toBeLessThan(quota.perOrigin + MESSAGE_BYTES)
    }
    expect(held[2]).toBeGreaterThan(0)
    expect(held[2]).toBeLessThan(quota.perOrigin)
    expect(held[3]).toBeLessThan(1_000)
    expect(victim.shown(attackers[3]!.id)).toBe(0)
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
})
