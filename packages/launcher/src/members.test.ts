import type { MemberInfo, NodeEvent, PeerInfo } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { LinkRoutes } from './link-routes.js'
import { describeMembers, jsonMember, MAX_LABEL_NAMES, PeerLabels, renamedNote } from './members.js'
import { shortId } from './session.js'

const KEY_A = 'a'.repeat(64)
const KEY_B = 'b'.repeat(64)

function message(from: PeerInfo, seq: number): NodeEvent {
  return { type: 'message', id: `${from.id}-${seq}`, seq, ts: 0, from, body: `line ${seq}` }
}

describe('PeerLabels', () => {
  it('labels a sender by its name until another key shows the same name, then by name and key', () => {
    const labels = new PeerLabels()
    const bob = { id: KEY_A, name: 'bob' }
    for (let seq = 1; seq <= 3; seq++) {
      labels.observe(message(bob, seq))
      expect(labels.label(bob)).toBe('bob')
    }
    // The same PeerInfo again, after a second key used a look-alike name: the label must change.
    labels.observe(message({ id: KEY_B, name: 'Bоb' }, 1))
    expect(labels.label(bob)).toMatch(/^bob~/)
    expect(labels.label(bob)).not.toBe(labels.label({ id: KEY_B, name: 'Bоb' }))
  })

  it.each([
    ['alice', 'ALICE'],
    ['bill', 'BILL'],
    ['lily', 'LILY'],
    ['ian', 'IAN'],
  ])('tells apart a second key that takes %j in other case (%j), capital I included', (name, other) => {
    const labels = new PeerLabels()
    const first = { id: KEY_A, name }
    labels.observe(message(first, 1))
    expect(labels.label(first)).toBe(name)
    const second = { id: KEY_B, name: other }
    labels.observe(message(second, 1))
    expect(labels.label(first)).toBe(`${name}~${shortId(KEY_A)}`)
    expect(labels.label(second)).toBe(`${other}~${shortId(KEY_B)}`)
  })

  it('past MAX_LABEL_NAMES keys to tell apart, tells every key apart rather than keep more', () => {
    const labels = new PeerLabels()
    const bob = { id: KEY_A, name: 'bob' }
    labels.observe(message(bob, 1))
    expect(labels.label(bob)).toBe('bob')
    // Keys that each say they were renamed: every one of them is told apart by its key.
    for (let i = 0; i <= MAX_LABEL_NAMES; i++) {
      const peer = { id: i.toString(16).padStart(64, '0'), name: `n${i}` }
      labels.observe({ type: 'member', peer, via: 'relay', renamedFrom: `m${i}` })
      expect(labels.label(peer)).toBe(`n${i}~${shortId(peer.id)}`)
    }
    expect(labels.label(bob)).toBe(`bob~${shortId(KEY_A)}`)
  })

  it('tells a second key apart by any name the first used before it came, however many', () => {
    const labels = new PeerLabels()
    for (let n = 1; n <= 40; n++) labels.observe(message({ id: KEY_A, name: `alice${n}` }, n))
    // The second key takes the first key's 40th name, written with a Cyrillic "а".
    const impostor = { id: KEY_B, name: 'аlice40' }
    labels.observe(message(impostor, 1))
    expect(labels.label(impostor)).toMatch(/^аlice40~/)
    expect(labels.label({ id: KEY_A, name: 'alice40' })).toMatch(/^alice40~/)
  })

  it('labels plain peers by the addresses their links came from, and a run of lines by its sender', () => {
    const labels = new PeerLabels()
    const one = { id: 'plain:127.0.0.1:40001', name: '127.0.0.1:40001' }
    const two = { id: 'plain:127.0.0.1:40002', name: '127.0.0.1:40002' }
    labels.observe({ type: 'connected', peer: one, address: one.name, direction: 'inbound' })
    labels.observe({ type: 'lines', from: two, firstSeq: 1, idPrefix: '2-', ts: 0, bodies: ['hi'] })
    expect([labels.label(one), labels.label(two)]).toEqual([one.name, two.name])
    // A second link from the same address (a reconnect) is the same name, told apart by nothing else.
    const again = { id: 'plain:127.0.0.1:40001', name: '127.0.0.1:40001' }
    labels.observe({ type: 'connected', peer: again, address: again.name, direction: 'inbound' })
    expect(labels.label(again)).toBe(one.name)
  })

  it('labels a key that switched names by name and key, even when its PeerInfo was labelled before', () => {
    const labels = new PeerLabels()
    const carol = { id: KEY_A, name: 'carol' }
    labels.observe(message(carol, 1))
    expect(labels.label(carol)).toBe('carol')
    labels.observe({ type: 'member', peer: carol, via: 'direct', renamedFrom: 'caz' })
    expect(labels.label(carol)).toMatch(/^carol~/)
  })

  it('labels a key seen under a name it went by before by name and key, with no rename told', () => {
    const labels = new PeerLabels()
    const cary = { id: KEY_A, name: 'cary' }
    labels.observe({ type: 'member', peer: cary, via: 'relay' })
    labels.observe(message({ id: KEY_B, name: 'bob' }, 1))
    expect(labels.label(cary)).toBe('cary')
    // History a newcomer is caught up on, written under the name she had then.
    labels.observe(message({ id: KEY_A, name: 'carol' }, 1))
    expect(labels.label({ id: KEY_A, name: 'carol' })).toBe(`carol~${shortId(KEY_A)}`)
    expect(labels.label(cary)).toBe(`cary~${shortId(KEY_A)}`)
    expect(labels.label({ id: KEY_B, name: 'bob' })).toBe('bob')
  })

  it('tells apart a peer that takes this node’s own name, or one like it, and follows a rename of ours', () => {
    const me = { id: 'c'.repeat(64), name: 'alice' }
    let self = me
    const labels = new PeerLabels(() => self)
    const bob = { id: KEY_A, name: 'bob' }
    labels.observe(message(bob, 1))
    expect(labels.label(bob)).toBe('bob')
    // The only other key, sending under our name: no second key has that name, yet it is not us.
    const asAlice = { id: KEY_A, name: 'alice' }
    labels.observe(message(asAlice, 2))
    expect(labels.label(asAlice)).toBe(`alice~${shortId(KEY_A)}`)
    const shouting = { id: KEY_A, name: 'ALICE' }
    expect(labels.label(shouting)).toBe(`ALICE~${shortId(KEY_A)}`)
    // A look-alike (a Cyrillic с), though no second key is around.
    const lookAlike = { id: KEY_A, name: 'Aliсe' }
    expect(labels.label(lookAlike)).toBe(`Aliсe~${shortId(KEY_A)}`)
    // Once we go by bob, a peer under bob's name is told apart from us too.
    self = { id: me.id, name: 'bob' }
    expect(labels.label(bob)).toBe(`bob~${shortId(KEY_A)}`)
  })

  it('leaves a name we gave up to the peer that uses it', () => {
    let self = { id: 'c'.repeat(64), name: 'alice' }
    const labels = new PeerLabels(() => self)
    const asAlice = { id: KEY_A, name: 'alice' }
    labels.observe(message(asAlice, 1))
    expect(labels.label(asAlice)).toBe(`alice~${shortId(KEY_A)}`)
    self = { id: self.id, name: 'zed' }
    expect(labels.label(asAlice)).toBe('alice')
  })

  it('gives a label in its parts: the name as the peer wrote it, and the fingerprint only when told apart', () => {
    const labels = new PeerLabels()
    // A name that ends as a label would: the parts keep it whole, as the peer wrote it.
    const bob = { id: KEY_A, name: `bob~${shortId(KEY_A)}` }
    labels.observe(message(bob, 1))
    expect(labels.parts(bob)).toEqual({ name: bob.name, fingerprint: undefined })
    expect(labels.label(bob)).toBe(bob.name)
    // A second key under a look-alike name: from now on each is told apart, in both forms.
    labels.observe(message({ id: KEY_B, name: `BOB~${shortId(KEY_A)}` }, 1))
    expect(labels.label(bob)).toBe(`${bob.name}~${shortId(KEY_A)}`)
    expect(labels.parts(bob)).toEqual({ name: bob.name, fingerprint: shortId(KEY_A) })
    const carol = { id: 'c'.repeat(64), name: 'carol' }
    expect(labels.parts(carol)).toEqual({ name: 'carol', fingerprint: undefined })
    expect(labels.label(carol)).toBe('carol')
  })

  it('tells nobody apart for our name when it has no self to compare with', () => {
    const labels = new PeerLabels(() => undefined)
    const asAlice = { id: KEY_A, name: 'alice' }
    labels.observe(message(asAlice, 1))
    expect(labels.label(asAlice)).toBe('alice')
  })
})

describe('renamedNote', () => {
  const me = { id: 'a'.repeat(64), name: 'carol' }
  const member = (digit: string, name: string): MemberInfo => ({
    peer: { id: digit.repeat(64), name },
    direct: true,
    connected: true,
  })

  it('says the new name and when peers see it', () => {
    expect(renamedNote(me, [member('b', 'bob')])).toBe(
      'you are now carol (peers see it on your next messages)',
    )
  })

  it('names the members whose names look the same, and how peers then show this node', () => {
    const note = renamedNote(me, [member('b', 'bob'), member('c', 'Cаrol')])
    expect(note).toBe(
      `you are now carol (peers see it on your next messages); Cаrol [${shortId('c'.repeat(64))}] goes by a ` +
        `name that looks the same, so peers see you as carol~${shortId(me.id)}`,
    )
  })

  it('names three look-alikes at most and counts the rest', () => {
    const others = ['1', '2', '3', '4', '5'].map((d) => member(d, 'CAROL'))
    const note = renamedNote(me, others)
    expect(note).toContain(`CAROL [${shortId('3'.repeat(64))}] and 2 more go by a name that looks the same`)
    expect(note).not.toContain(shortId('4'.repeat(64)))
  })
})

describe('a relayed member known by its presence', () => {
  const carol: PeerInfo = { id: 'c'.repeat(64), name: 'carol' }
  const there: MemberInfo = { peer: carol, direct: false, connected: true, present: true, hereAt: 5 }
  it('is listed by /peers as in the room, or not known to be there once it left', () => {
    const labels = new PeerLabels()
    expect(describeMembers([there], labels)).toEqual([
      `carol [${shortId(carol.id)}] relay, reachable through the mesh, in the room`,
    ])
    expect(describeMembers([{ ...there, present: false }], labels)[0]).toMatch(
      new RegExp(
        `^carol \\[${shortId(carol.id)}\\] relay, not known to be in the room \\(it left, or said nothing since \\d\\d:\\d\\d\\)$`,
      ),
    )
    const { present: _, hereAt: __, ...unknown } = there
    expect(describeMembers([unknown], labels)[0]).toMatch(/reachable through the mesh$/)
  })
  it('says when a relayed member that quit left, and why, while its leave is the newest presence held', () => {
    const at = new Date(2026, 0, 1, 9, 30, 15).getTime()
    const routes = new LinkRoutes()
    routes.observe({ type: 'member-left', peer: carol, at, reason: 'back tomorrow' })
    const gone = { ...there, present: false, hereAt: at }
    expect(describeMembers([gone], new PeerLabels(), routes)).toEqual([
      `carol [${shortId(carol.id)}] relay, left at 09:30:15 (back tomorrow)`,
    ])
    routes.observe({ type: 'member-left', peer: carol, at })
    expect(describeMembers([gone], new PeerLabels(), routes)).toEqual([
      `carol [${shortId(carol.id)}] relay, left at 09:30:15`,
    ])
    // Back since, then silent: its leave no longer says where it is.
    const stale = { ...gone, hereAt: at + 60_000 }
    expect(describeMembers([stale], new PeerLabels(), routes)[0]).toMatch(/not known to be in the room/)
  })
  it('carries present and hereAt in --json', () => {
    expect(jsonMember(there)).toMatchObject({ via: 'relay', present: true, hereAt: 5 })
  })
})

describe('a neighbour whose link is down, as /peers tells it', () => {
  const carol = { id: KEY_A, name: 'carol' }
  const fp = shortId(KEY_A)
  const at = new Date(2026, 0, 1, 9, 30, 15).getTime()
  function routesAfter(reason: string, left?: true): LinkRoutes {
    const routes = new LinkRoutes(() => at)
    routes.observe({ type: 'disconnected', peer: carol, reason, ...(left ? { left } : {}) })
    return routes
  }
  const down: MemberInfo = { peer: carol, direct: true, connected: false, throughMesh: true }

  it('says a link that broke, with nothing of the member through the mesh since, is down since then', () => {
    expect(describeMembers([down], new PeerLabels(), routesAfter('connection closed'))).toEqual([
      `carol [${fp}] direct, its link is down since 09:30:15 (connection closed); nothing of it came through the mesh since`,
    ])
    const alone = { ...down, throughMesh: undefined }
    expect(describeMembers([alone], new PeerLabels(), routesAfter('connection closed'))).toEqual([
      `carol [${fp}] direct, its link is down since 09:30:15 (connection closed)`,
    ])
  })

  it('says the mesh reaches it once something of it written since came that way, or after a /disconnect', () => {
    const reachable = [`carol [${fp}] direct, its link is down; reachable through the mesh`]
    // A presence dated after the link ended.
    const said = { ...down, lastSeen: at + 1, present: true, hereAt: at + 1 }
    expect(describeMembers([said], new PeerLabels(), routesAfter('connection closed'))).toEqual(reachable)
    // A message written after it.
    const routes = routesAfter('connection closed')
    routes.observe({ ...message(carol, 7), ts: at + 1 } as NodeEvent)
    expect(describeMembers([{ ...down, lastSeen: at + 1 }], new PeerLabels(), routes)).toEqual(reachable)
    for (const reason of [
      'disconnected by the user',
      'carol closed this link with /disconnect; it has not left',
    ])
      expect(describeMembers([down], new PeerLabels(), routesAfter(reason))).toEqual([
        `carol [${fp}] direct, its link is down; reachable through the mesh`,
      ])
  })

  it('takes nothing written before the link ended for a sign of life, however late it came', () => {
    // Its presence and a message made as it died, relayed by another member after its link was seen to end.
    const routes = routesAfter('connection closed')
    routes.observe({ ...message(carol, 7), ts: at - 5 } as NodeEvent)
    const late = { ...down, lastSeen: at + 1, present: true, hereAt: at - 5 }
    expect(describeMembers([late], new PeerLabels(), routes)).toEqual([
      `carol [${fp}] direct, its link is down since 09:30:15 (connection closed); nothing of it came through the mesh since`,
    ])
  })

  it('says a neighbour whose link broke left, once its leave came through the mesh since', () => {
    // Its link broke, it quit later: its `gone` came through another member (lastSeen), which says it left.
    const leftSince = { ...down, lastSeen: at + 1, present: false, hereAt: at + 1 }
    const [line] = describeMembers([leftSince], new PeerLabels(), routesAfter('connection closed'))
    expect(line).not.toMatch(/reachable through the mesh/)
    expect(line).toMatch(/not known to be in the room \(it left/)
  })

  it('says a neighbour that quit left, with its reason, until a new link opens', () => {
    const routes = routesAfter('carol left (back tomorrow)', true)
    const gone = { ...down, throughMesh: undefined }
    expect(describeMembers([gone], new PeerLabels(), routes)).toEqual([
      `carol [${fp}] direct, left at 09:30:15 (back tomorrow)`,
    ])
    routes.observe({ type: 'connected', peer: carol, address: '127.0.0.1:4001', direction: 'inbound' })
    expect(routes.ended(KEY_A)).toBeUndefined()
  })
})

describe('/peers lines, whatever a peer put in what they show', () => {
  const carol = { id: KEY_A, name: 'carol' }
  const at = new Date(2026, 0, 1, 9, 30, 15).getTime()
  // Clear the screen, retitle the window, a C1 CSI, a bidi override and a line separator.
  const hostile = '\u001b[2J\u001b]0;owned\u0007\u009b31m\u202eevil\u2028parley: x'
  // The same with no blank space, which an address that is shown holds none of.
  const unbroken = '\u001b[2J\u001b]0;owned\u0007\u009b31m\u202eevil'
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/

  it('never carries a control character, bidi control or line separator: where it listens, why it left', () => {
    const listening: MemberInfo = {
      peer: carol,
      direct: true,
      connected: true,
      listen: `1.2.3.4:5${unbroken}`,
    }
    const lines = describeMembers([listening], new PeerLabels())
    expect(lines[0]).toContain('connected at 1.2.3.4:5^[[2J^[]0;owned^G')
    const linkRoutes = new LinkRoutes(() => at)
    linkRoutes.observe({ type: 'disconnected', peer: carol, reason: `connection closed ${hostile}` })
    lines.push(
      ...describeMembers([{ peer: carol, direct: true, connected: false }], new PeerLabels(), linkRoutes),
    )
    const relayed = { id: KEY_B, name: 'dave' }
    const departures = new LinkRoutes()
    departures.observe({ type: 'member-left', peer: relayed, at, reason: hostile })
    const gone: MemberInfo = { peer: relayed, direct: false, connected: true, present: false, hereAt: at }
    lines.push(...describeMembers([gone], new PeerLabels(), departures))
    expect(lines).toHaveLength(3)
    for (const line of lines) expect(line).not.toMatch(unsafe)
  })
})
