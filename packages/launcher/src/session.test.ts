import { type ChatNode, MAX_BODY_LENGTH, type MemberInfo, type NodeEvent, ProtocolError } from '@parley/core'
import { fingerprint } from '@parley/secure'
import { describe, expect, it } from 'vitest'
import { LinkRoutes, routeText, shortRoute } from './link-routes.js'
import { describeMembers, jsonMember, PeerLabels } from './members.js'
import { connectTo, describeEvent, disconnectFrom, sameTarget, sendInParts, shortId } from './session.js'

const linkError = (code: string, message: string): NodeEvent => ({
  type: 'link-error',
  address: '127.0.0.1:4002',
  code,
  message,
})

describe('describeEvent for listening on the DHT', () => {
  const key = 'ab'.repeat(32)
  const listening: NodeEvent = { type: 'listening', address: `dht:${key}` }

  it('tells how others reach this node by key, with the private DHT it is on', () => {
    expect(describeEvent(listening)?.text).toBe(
      `listening on the DHT under your key: others reach you with parley --peer ${fingerprint(key).full}`,
    )
    const bootstrap = [
      { host: '127.0.0.1', port: 4000 },
      { host: 'dht.example.org', port: 49737 },
    ]
    expect(describeEvent(listening, undefined, undefined, { bootstrap })?.text).toBe(
      `listening on the DHT under your key: others reach you with parley --bootstrap 127.0.0.1:4000,dht.example.org:49737 --peer ${fingerprint(key).full}`,
    )
  })
})

describe('how a DHT link was made', () => {
  const route = (remoteHost: string) => ({ kind: 'holepunched', remoteHost, remotePort: 40123 }) as const

  it('says no NAT was in the way of a peer on this machine or network, and names the NAT otherwise', () => {
    expect(routeText(route('127.0.0.1'))).toBe('direct UDP on this machine: 127.0.0.1:40123')
    expect(routeText(route('10.0.1.2'))).toBe('direct UDP on the local network: 10.0.1.2:40123')
    expect(routeText(route('192.168.1.20'))).toBe('direct UDP on the local network: 192.168.1.20:40123')
    expect(routeText(route('198.51.100.102'))).toBe(
      'holepunched; its address as seen through its NAT: 198.51.100.102:40123',
    )
    expect(routeText(route('172.32.0.1'))).toMatch(/^holepunched/)
    expect(shortRoute(route('127.0.0.1'))).toBe('DHT, direct UDP at 127.0.0.1:40123')
    expect(shortRoute(route('198.51.100.102'))).toBe('DHT, holepunched, seen at 198.51.100.102:40123')
  })
})

describe('describeEvent for a connection that ends before it is a link', () => {
  it('shows a refusal with its reason and code', () => {
    const shown = describeEvent(linkError('TOO_MANY', 'too many connections from 127.0.0.1'))
    expect(shown).toEqual({
      level: 'warn',
      text: expect.stringMatching(
        /^peer at 127\.0\.0\.1:4002 was dropped: too many connections .*\[TOO_MANY\]$/,
      ),
    })
  })

  it('names a dropped peer once when the reason names it by its address too', () => {
    const message =
      'peer at 127.0.0.1:4002 is not speaking the parley secure protocol (is it running with --plain?)'
    expect(describeEvent(linkError('NOT_SECURE', message))?.text).toBe(
      'peer at 127.0.0.1:4002 was dropped: it is not speaking the parley secure protocol (is it running with --plain?) [NOT_SECURE]',
    )
  })

  it('says once that a peer refused this node on the link it opened, not "X was dropped: X refused"', () => {
    const message = "peer at 127.0.0.1:4002 refused the link: it does not trust this node's key (abcd-efgh)"
    expect(describeEvent(linkError('REFUSED', message))).toEqual({
      level: 'warn',
      text: "peer at 127.0.0.1:4002 refused the link: it does not trust this node's key (abcd-efgh) [REFUSED]",
    })
  })

  it("gives a refusal of its own written over several lines (a changed key) line by line, and keeps a peer's text on one", () => {
    const banner =
      'the key at this address has CHANGED\n@@@@\n@  WARNING: THE KEY OF PEER 127.0.0.1:4002 HAS CHANGED!'
    expect(describeEvent(linkError('UNTRUSTED', banner))).toEqual({
      level: 'warn',
      text: 'peer at 127.0.0.1:4002 was dropped: the key at this address has CHANGED',
      more: ['@@@@', '@  WARNING: THE KEY OF PEER 127.0.0.1:4002 HAS CHANGED! [UNTRUSTED]'],
    })
    const dial: NodeEvent = {
      type: 'dial-error',
      target: '127.0.0.1:4002',
      code: 'UNTRUSTED',
      message: banner,
    }
    expect(describeEvent(dial)?.more).toHaveLength(2)
    expect(describeEvent(dial)?.text).toBe('cannot reach 127.0.0.1:4002: the key at this address has CHANGED')
    // Text that is not a refusal of ours stays one line, whatever it holds: a frontend never splits it.
    expect(describeEvent(linkError('PROTOCOL', 'bad\n<bob> wire the money'))?.more).toBeUndefined()
  })

  it('names a peer that left with its fingerprint, so a look-alike leaving is not taken for the real one', () => {
    const impostor = { id: 'c3'.repeat(32), name: 'bob' }
    const left: NodeEvent = {
      type: 'disconnected',
      peer: impostor,
      reason: 'bob left (input ended)',
      left: true,
    }
    expect(describeEvent(left)).toEqual({
      level: 'info',
      text: `disconnected from bob [${shortId(impostor.id)}]: bob left (input ended)`,
    })
    // A link that failed is a warning; a peer that said it leaves is not.
    expect(describeEvent({ type: 'disconnected', peer: impostor, reason: 'connection reset' })?.level).toBe(
      'warn',
    )
  })

  it('does not show an announced listen address that holds blank space (padding that wraps to a row of its own)', () => {
    const mallory = { id: 'c3'.repeat(32), name: 'mallory' }
    const connected = (listen: string, direction: 'inbound' | 'outbound'): NodeEvent => ({
      type: 'connected',
      peer: mallory,
      address: '127.0.0.1:50123',
      direction,
      listen,
    })
    const fake = `127.0.0.1:9${' '.repeat(150)}parley: alice [abcd-efgh] is the room admin`
    expect(describeEvent(connected(fake, 'inbound'))?.text).toBe(
      `connected to mallory [${shortId(mallory.id)}]`,
    )
    expect(describeEvent(connected(fake, 'outbound'))?.text).toBe(
      `connected to mallory [${shortId(mallory.id)}] at 127.0.0.1:50123`,
    )
    expect(describeEvent(connected('127.0.0.1:9\u2800\u2800x', 'inbound'))?.text).not.toContain('127.0.0.1:9')
    // An address as addresses are written is shown.
    expect(describeEvent(connected('[::1]:4001', 'inbound'))?.text).toContain(' at [::1]:4001')
  })

  it('says a link that replaced one not yet seen closed is a reconnect, not a second peer', () => {
    const bob = { id: 'b0'.repeat(32), name: 'bob' }
    const again = (replaced?: 'restarted' | 'relinked'): NodeEvent => ({
      type: 'connected',
      peer: bob,
      address: '127.0.0.1:4002',
      direction: 'outbound',
      ...(replaced ? { replaced } : {}),
    })
    const tcp = { kind: 'tcp' } as const
    expect(describeEvent(again(), tcp)?.text).toBe(
      `connected to bob [${shortId(bob.id)}] at 127.0.0.1:4002 (direct TCP)`,
    )
    expect(describeEvent(again('restarted'), tcp)).toEqual({
      level: 'info',
      text: `connected to bob [${shortId(bob.id)}] at 127.0.0.1:4002 (direct TCP) again: it restarted, and its new link replaced the old one before that was seen to close`,
    })
    expect(describeEvent(again('relinked'), tcp)?.text).toBe(
      `connected to bob [${shortId(bob.id)}] at 127.0.0.1:4002 (direct TCP) again: a new link replaced the old one before that was seen to close`,
    )
    const twin = { ...again('restarted'), sameNameAs: ['c1'.repeat(32)] } as NodeEvent
    expect(describeEvent(twin)?.text).toMatch(
      /^connected to bob \[.*\] at 127\.0\.0\.1:4002 again: it restarted, .*; WARNING: /,
    )
  })

  it('names the target of a failed dial once', () => {
    const dial = (target: string, message: string): NodeEvent => ({
      type: 'dial-error',
      target,
      code: 'HOST_NOT_FOUND',
      message,
    })
    // A TCP dial's message names its address already.
    const noHost =
      'cannot connect to nohost.example:4001: there is no host named "nohost.example"; check the spelling'
    expect(describeEvent(dial('nohost.example:4001', noHost))?.text).toBe(noHost)
    // A DHT dial's says "it": the key is named as the user knows it, by its short fingerprint.
    const key = 'c3'.repeat(32)
    expect(describeEvent(dial(`dht:${key}`, 'no node announces it on the DHT'))?.text).toBe(
      `cannot reach key [${shortId(key)}]: no node announces it on the DHT`,
    )
  })

  const alice = { id: 'a1'.repeat(32), name: 'alice' }
  /** A link to alice, which dialed from port 60514, ended after her hello. */
  const aliceDropped = (code: string, message: string): Extract<NodeEvent, { type: 'link-error' }> => ({
    type: 'link-error',
    address: '127.0.0.1:60514',
    code,
    message,
    peer: alice,
  })

  it('names a peer dropped after its hello, at the address it listens on, not the port it dialed from', () => {
    const dropped = { ...aliceDropped('PROTOCOL', 'invalid ack message'), listen: '127.0.0.1:48101' }
    expect(describeEvent(dropped)?.text).toBe(
      `alice [${shortId(alice.id)}] at 127.0.0.1:48101 was dropped: invalid ack message [PROTOCOL]`,
    )
    expect(describeEvent(aliceDropped('PROTOCOL', 'invalid ack message'))?.text).toBe(
      `alice [${shortId(alice.id)}] was dropped: invalid ack message [PROTOCOL]`,
    )
    // Over the DHT its address is its key: the fingerprint names it once.
    const overDht = { ...dropped, address: `dht:${alice.id}`, listen: `dht:${alice.id}` }
    expect(describeEvent(overDht)?.text).toBe(
      `alice [${shortId(alice.id)}] was dropped: invalid ack message [PROTOCOL]`,
    )
  })

  it('leaves a silent neighbour to its "disconnected" line, and names a silent stranger', () => {
    const silent = aliceDropped('SILENT', 'peer sent nothing for 14000 ms')
    expect(describeEvent(silent)).toBeUndefined()
    const { peer: _, ...stranger } = silent
    expect(describeEvent(stranger)?.text).toBe(
      'peer at 127.0.0.1:60514 was dropped: peer sent nothing for 14000 ms [SILENT]',
    )
  })

  it('shows nothing for one whose other end left in its handshake, as the losing link of a crossing dial does', () => {
    expect(describeEvent(linkError('RESET', 'connection reset by the other end'))).toBeUndefined()
    expect(describeEvent(linkError('CLOSED', 'connection closed'))).toBeUndefined()
    // Both ends of a link to itself: the dial's own line says it, once.
    expect(describeEvent(linkError('SELF', 'this node dialed itself'))).toBeUndefined()
  })
})

describe('describeEvent for a neighbour that refuses our messages (OVER_QUOTA)', () => {
  const bob = { id: 'b0'.repeat(32), name: 'bob' }
  const refused = (times: number, by: 'peer' | 'self' = 'peer') => ({
    by,
    code: 'OVER_QUOTA',
    message: 'its messages fill its share of this node’s disk (256.0 MiB of 256.0 MiB)',
    times,
    retryMs: 10_000 * 2 ** (times - 1),
  })
  /** The events of one redial that meets the refusal again (the first has no `afterRefusal`). */
  const cycle = (times: number): NodeEvent[] => [
    {
      type: 'connected',
      peer: bob,
      address: '127.0.0.1:4002',
      direction: 'outbound',
      ...(times > 1 ? { afterRefusal: true as const } : {}),
    },
    { type: 'disconnected', peer: bob, reason: 'bob left (its messages fill …)', refusal: 'OVER_QUOTA' },
    {
      type: 'peer-state',
      target: '127.0.0.1:4002',
      state: { status: 'reconnecting', attempt: times, dialing: false, peer: bob, refused: refused(times) },
    },
  ]

  it('tells the first refusal in one line (what happened, that nothing is lost, what to do), and none of the redials after it', () => {
    const lines = [1, 2, 3, 4].flatMap(cycle).flatMap((e) => {
      const line = describeEvent(e)
      return line ? [line] : []
    })
    expect(lines).toEqual([
      { level: 'info', text: expect.stringMatching(/^connected to bob \[.*\] at 127\.0\.0\.1:4002$/) },
      {
        level: 'warn',
        text: 'bob at 127.0.0.1:4002 refuses your messages: they fill the share of its disk it keeps for you [OVER_QUOTA]; they wait in your outbox, none is lost; parley tries again in 10 s, then less and less often (up to every 10 min); to be heard sooner, ask its owner to raise its --disk-quota',
      },
    ])
  })

  it('says it the other way round when this node refuses the neighbour it dials', () => {
    const line = describeEvent({
      type: 'peer-state',
      target: '127.0.0.1:4002',
      state: { status: 'reconnecting', attempt: 1, dialing: false, peer: bob, refused: refused(1, 'self') },
    })
    expect(line?.text).toMatch(
      /^bob at 127\.0\.0\.1:4002 sends more than the share of your disk it may fill \[OVER_QUOTA\]: its messages are refused; parley tries again in 10 s/,
    )
  })
})

describe('describeEvent for a data dir restored from an older copy', () => {
  const bob = { id: 'b0b0000000000000', name: 'bob' }

  it('says in one line what happened, that the messages wait, and what to do, whether the peer saw more or other messages', () => {
    const ahead = describeEvent({ type: 'forked', peer: bob, upTo: 3, newest: 1, pending: 0 })
    expect(ahead?.level).toBe('warn')
    // The peer's claim, as a claim: true after a restore from an older copy, else a lie, and said so.
    expect(ahead?.text).toMatch(
      /^bob \[[^\]]+\] says it has your messages up to #3, but this data dir only reaches #1: /,
    )
    expect(ahead?.text).toMatch(/if this data dir was restored from an older copy, .*stay in the outbox/)
    expect(ahead?.text).toMatch(
      /newest copy of the data dir, or, to start a new numbering, move journal\.log out of it/,
    )
    // A copy run as another node at the same time numbers its messages alike: said too, and not as a lie.
    expect(ahead?.text).toMatch(/or a copy of it ran as another node at the same time/)
    expect(ahead?.text).toMatch(
      /If the data dir was neither restored nor copied and run twice, bob is not telling the truth$/,
    )
    const other = describeEvent({ type: 'forked', peer: bob, upTo: 3, newest: 4, pending: 3 })
    expect(other?.text).toMatch(/up to #3, but this data dir holds other messages under that number: /)
    expect(other?.text).not.toMatch(/\n/)
  })
})

describe('describeEvent for two nodes running with one key', () => {
  const alice = { id: 'a11ce'.padEnd(64, '0'), name: 'alice' }
  const bob = { id: 'b0b'.padEnd(64, '0'), name: 'bob' }

  it('says at the peer, in one line, that two nodes run with the key, where each one is, and what to do', () => {
    const line = describeEvent({
      type: 'same-key',
      peer: alice,
      addresses: [
        { address: '127.0.0.1:40001', listen: '127.0.0.1:5001' },
        { address: '127.0.0.1:40002', listen: '0.0.0.0:5002' },
      ],
    })
    expect(line?.level).toBe('warn')
    expect(line?.text).toMatch(
      /^two nodes are running with alice's key \[[a-z0-9]{4}-[a-z0-9]{4}\] \(from 127\.0\.0\.1:5001 and 127\.0\.0\.1:5002\): a copied data dir\? Each must have its own \(parley id shows a node's key\)/,
    )
    // Over the DHT both are the key itself: no addresses.
    const dht = describeEvent({
      type: 'same-key',
      peer: alice,
      addresses: [{ address: `dht:${alice.id}` }, { address: `dht:${alice.id}` }],
    })
    expect(dht?.text).toMatch(/^two nodes are running with alice's key \[[a-z0-9-]+\]: a copied data dir\?/)
  })

  it("tells the copy turned away that another node runs with its key, as the peer's word, and what to do", () => {
    const line = describeEvent({ type: 'key-in-use', peer: bob })
    expect(line?.level).toBe('warn')
    expect(line?.text).toMatch(
      /^bob \[[a-z0-9]{4}-[a-z0-9]{4}\] says another node runs with your key and is connected to it in this one's place \(a copied data dir\?\); stop one of them: each node needs its own data dir \(parley id shows a node's key\); meanwhile this one tries again every 30 s at most$/,
    )
  })

  it('says nothing more for each redial turned away: the lines above said it once', () => {
    const refused = { by: 'peer' as const, code: 'SAME_KEY', message: 'x', times: 1, retryMs: 2_000 }
    const line = describeEvent({
      type: 'peer-state',
      target: '127.0.0.1:4002',
      state: { status: 'reconnecting', attempt: 1, dialing: false, peer: bob, refused },
    })
    expect(line).toBeUndefined()
    const lost = describeEvent({ type: 'disconnected', peer: bob, reason: 'x', refusal: 'SAME_KEY' })
    expect(lost).toBeUndefined()
  })
})

describe('/connect', () => {
  const key = 'ab'.repeat(32)
  /** The parts of a node `/connect` reads, and the dials it made. */
  function fakeNode(members: MemberInfo[] = []) {
    const dialed: string[] = []
    const node = {
      members: () => members,
      peerStates: () => dialed.map((target) => ({ target, state: { status: 'connecting' } })),
      connect: (target: string) => dialed.push(target),
      disconnect: (target: string) => {
        const at = dialed.indexOf(target)
        if (at >= 0) dialed.splice(at, 1)
        return at >= 0
      },
    } as unknown as ChatNode
    return { node, dialed }
  }

  it('takes localhost:P for the link or dial at 127.0.0.1:P, and stops that dial on /disconnect localhost:P', () => {
    const bob = { id: key, name: 'bob' }
    const linked = fakeNode([{ peer: bob, direct: true, connected: true, address: '127.0.0.1:4002' }])
    expect(connectTo(linked.node, 'localhost:4002', { dht: false })?.text).toBe(
      `already connected to bob [${fingerprint(key).short}] at localhost:4002`,
    )
    expect(linked.dialed).toEqual([])

    const { node, dialed } = fakeNode()
    connectTo(node, '127.0.0.1:4010', { dht: false })
    // A dial at the same place that has not linked yet may be on the address localhost does not reach.
    expect(connectTo(node, 'LocalHost:4010', { dht: false })).toBeUndefined()
    expect(dialed).toEqual(['127.0.0.1:4010', 'LocalHost:4010'])
    expect(disconnectFrom(node, 'LocalHost:4010').text).toBe(
      'stopped dialing LocalHost:4010; messages no longer wait for whoever answers there',
    )
    // The other loopback address is another socket: it is dialed.
    expect(connectTo(node, '[::1]:4010', { dht: false })).toBeUndefined()
    expect(dialed).toEqual(['127.0.0.1:4010', '[::1]:4010'])
    // Two dials localhost may stand for: /disconnect localhost does not guess which.
    expect(disconnectFrom(node, 'localhost:4010').text).toBe(
      'not dialing localhost:4010; dialing 127.0.0.1:4010, [::1]:4010',
    )
    expect(disconnectFrom(node, '[::1]:4010').text).toMatch(/^stopped dialing \[::1\]:4010/)
    expect(disconnectFrom(node, 'localhost:4010').text).toBe(
      'stopped dialing 127.0.0.1:4010; messages no longer wait for whoever answers there',
    )
    expect(dialed).toEqual([])
  })

  it('on a node without the DHT, says once to restart with --dht or give HOST:PORT, and dials nothing', () => {
    const { node, dialed } = fakeNode()
    const first = connectTo(node, `dht:${key}`, { dht: false })
    expect(first).toEqual({
      level: 'warn',
      text: `cannot dial key [${fingerprint(key).short}]: this node is not on the DHT; restart parley with --dht (and the peer's --bootstrap, if it uses one), or use /connect HOST:PORT`,
    })
    // Nothing is left retrying: asking again gets the same answer, not "already dialing".
    expect(connectTo(node, `dht:${key}`, { dht: false })).toEqual(first)
    expect(dialed).toEqual([])
  })

  it('refuses port 0, which nothing answers on, and dials nothing', () => {
    const { node, dialed } = fakeNode()
    expect(connectTo(node, '127.0.0.1:0', { dht: false })).toEqual({
      level: 'warn',
      text: 'cannot dial 127.0.0.1:0: port 0 means "any free port" only when listening; give the port the peer listens on',
    })
    expect(dialed).toEqual([])
    connectTo(node, '127.0.0.1:4010', { dht: false })
    expect(dialed).toEqual(['127.0.0.1:4010'])
  })

  it('in plain mode, says that it is TCP only', () => {
    const { node, dialed } = fakeNode()
    expect(connectTo(node, `dht:${key}`, { dht: false, plain: true })?.text).toMatch(
      /plain mode is TCP only; use \/connect HOST:PORT$/,
    )
    expect(dialed).toEqual([])
  })

  it('with the DHT, dials by key once; a second /connect says it is dialing', () => {
    const { node, dialed } = fakeNode()
    expect(connectTo(node, `dht:${key}`, { dht: true })).toBeUndefined()
    expect(dialed).toEqual([`dht:${key}`])
    expect(connectTo(node, `dht:${key}`, { dht: true })?.text).toBe(
      `already dialing key [${fingerprint(key).short}] (connecting); it keeps retrying until it answers`,
    )
    expect(dialed).toHaveLength(1)
  })

  it('does not dial a key already connected, whichever transport its link took', () => {
    const bob = { id: key, name: 'bob' }
    const { node, dialed } = fakeNode([
      { peer: bob, direct: true, connected: true, address: '127.0.0.1:5000', listen: '127.0.0.1:4002' },
    ])
    expect(connectTo(node, `dht:${key}`, { dht: true })?.text).toBe(
      `already connected to bob [${fingerprint(key).short}] at key [${fingerprint(key).short}]`,
    )
    expect(dialed).toEqual([])
  })
})

describe('sameTarget', () => {
  it('is the same text, or localhost beside a loopback address on the same port', () => {
    expect(sameTarget('10.0.0.1:4002', '10.0.0.1:4002')).toBe(true)
    expect(sameTarget('localhost:4002', '127.0.0.1:4002')).toBe(true)
    expect(sameTarget('[::1]:4002', 'LOCALHOST:4002')).toBe(true)
    expect(sameTarget('localhost:4002', '127.0.0.1:4003')).toBe(false)
    expect(sameTarget('127.0.0.1:4002', '[::1]:4002')).toBe(false)
    expect(sameTarget('localhost:4002', undefined)).toBe(false)
    expect(sameTarget('mylocalhost:4002', '127.0.0.1:4002')).toBe(false)
  })
})

describe('how links were made, for /peers', () => {
  it('names each connected neighbour’s route, and none for a member reached through a relay', () => {
    const bob = { id: 'b'.repeat(64), name: 'bob' }
    const carol = { id: 'c'.repeat(64), name: 'carol' }
    const routes = new LinkRoutes()
    const connected = {
      type: 'connected',
      peer: bob,
      address: `dht:${bob.id}`,
      direction: 'outbound',
    } as const
    routes.observe(connected, { kind: 'holepunched', remoteHost: '198.51.100.7', remotePort: 40123 })
    const members: MemberInfo[] = [
      { peer: bob, direct: true, connected: true, address: `dht:${bob.id}` },
      { peer: carol, direct: false, connected: true },
    ]
    const lines = describeMembers(members, new PeerLabels(), routes)
    expect(lines[0]).toBe(
      `bob [${fingerprint(bob.id).short}] direct, connected (holepunched; its address as seen through its NAT: 198.51.100.7:40123)`,
    )
    expect(lines[1]).toBe(`carol [${fingerprint(carol.id).short}] relay, reachable through the mesh`)
    expect(jsonMember(members[0]!, routes).link).toEqual({
      kind: 'holepunched',
      remoteHost: '198.51.100.7',
      remotePort: 40123,
    })
    expect(jsonMember(members[1]!, routes)).not.toHaveProperty('link')
  })

  it('says a neighbour whose link is down may still be reached through the mesh', () => {
    const carol = { id: 'c'.repeat(64), name: 'carol' }
    const member: MemberInfo = { peer: carol, direct: true, connected: false, throughMesh: true }
    expect(describeMembers([member], new PeerLabels())).toEqual([
      `carol [${fingerprint(carol.id).short}] direct, its link is down; reachable through the mesh`,
    ])
    expect(jsonMember(member)).toMatchObject({ via: 'direct', connected: false, throughMesh: true })
  })

  it('names a member whose label carries its fingerprint once', () => {
    const bob = { id: 'b'.repeat(64), name: 'bob' }
    const labels = new PeerLabels()
    // Seen under two names: its label carries the fingerprint from then on.
    labels.observe({ type: 'member', peer: { ...bob, name: 'robert' }, via: 'direct', renamedFrom: 'bob' })
    const short = fingerprint(bob.id).short
    expect(
      describeMembers([{ peer: { ...bob, name: 'robert' }, direct: true, connected: false }], labels),
    ).toEqual([`robert~${short} direct, disconnected`])
  })
})

describe('sendInParts', () => {
  /** A send that takes bodies of at most `limit` characters, as a node with a small frame would. */
  function sender(limit: number) {
    const sent: string[] = []
    /** Whether each part sent said that its line goes on in the next. */
    const more: boolean[] = []
    const send = (body: string, goesOn = false) => {
      if (body.length > limit) throw new ProtocolError('FRAME_TOO_LARGE', `${body.length} > ${limit}`)
      sent.push(body)
      more.push(goesOn)
      return sent.length
    }
    return { sent, more, send }
  }

  it('sends a text that fits as it is, and tells each part with what send returned', () => {
    const { sent, send } = sender(100)
    const told: [string, number][] = []
    sendInParts(send, 'hello', (part, n) => told.push([part, n]))
    expect(sent).toEqual(['hello'])
    expect(told).toEqual([['hello', 1]])
  })

  it('halves a part too large for a frame until each fits, in order, never inside a surrogate pair', () => {
    const { sent, send } = sender(7)
    const text = 'ab😀cd😀efgh😀ijklmnop😀'
    sendInParts(send, text)
    expect(sent.join('')).toBe(text)
    for (const part of sent) {
      expect(part.length).toBeLessThanOrEqual(7)
      expect(part).toBe(Buffer.from(part, 'utf8').toString('utf8'))
      expect(part).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/)
    }
  })

  it('splits a text past the body limit first, and rethrows anything but a frame too large', () => {
    const { sent, send } = sender(MAX_BODY_LENGTH)
    const text = 'x'.repeat(MAX_BODY_LENGTH * 2 + 5)
    sendInParts(send, text)
    expect(sent.map((p) => p.length)).toEqual([MAX_BODY_LENGTH, MAX_BODY_LENGTH, 5])
    const closed = () => {
      throw new ProtocolError('UNEXPECTED', 'closed')
    }
    expect(() => sendInParts(closed, 'hi')).toThrow('closed')
    // One character that fits no frame is not halved for ever.
    expect(() => sendInParts(sender(0).send, 'a')).toThrow(ProtocolError)
  })

  it('says on every part but the last that its line goes on, so a receiver joins the parts into one line', () => {
    const long = sender(MAX_BODY_LENGTH)
    sendInParts(long.send, 'x'.repeat(MAX_BODY_LENGTH * 2 + 5))
    expect(long.more).toEqual([true, true, false])
    const alone = sender(MAX_BODY_LENGTH)
    sendInParts(alone.send, 'x'.repeat(MAX_BODY_LENGTH))
    expect(alone.more).toEqual([false])
    // Halves for a small frame too: only the line's last piece ends it.
    const small = sender(4)
    sendInParts(small.send, 'abcdefghijklmnop')
    expect(small.sent.join('')).toBe('abcdefghijklmnop')
    expect(small.more).toEqual([...small.sent.slice(1).map(() => true), false])
  })

  it('says it on the last part too for the front of a longer line (a piped line still being read)', () => {
    const { sent, more, send } = sender(4)
    sendInParts(send, 'abcdefgh', undefined, true)
    expect(sent.join('')).toBe('abcdefgh')
    expect(more.every(Boolean)).toBe(true)
  })
})

describe('describeEvent: namesakes', () => {
  const me = 'c'.repeat(64)
  const other = 'd'.repeat(64)
  const peer = { id: 'a'.repeat(64), name: 'alice' }
  const connected = (sameNameAs: string[]): NodeEvent => ({
    type: 'connected',
    peer,
    address: '127.0.0.1:4001',
    direction: 'outbound',
    sameNameAs,
  })

  it('says a peer goes by your own name, not that a stranger’s key used it', () => {
    const line = describeEvent(connected([me]), undefined, me)
    expect(line?.level).toBe('warn')
    expect(line?.text).toContain('WARNING: its name "alice" reads as your own: this may not be who you think')
    expect(line?.text).not.toContain('a different key')
  })

  it('names the other keys by fingerprint, beside your own name', () => {
    const line = describeEvent(connected([other, me]), undefined, me)
    expect(line?.text).toContain(
      `WARNING: its name "alice" reads as your own and as a name a different key used before [${shortId(other)}]`,
    )
  })

  it('words a relayed member and a rename the same way', () => {
    const relayed = describeEvent({ type: 'member', peer, via: 'relay', sameNameAs: [me] }, undefined, me)
    expect(relayed?.text).toContain(
      'is in the room (through another member); WARNING: its name "alice" reads as your own',
    )
    const renamed = describeEvent(
      { type: 'member', peer, via: 'direct', renamedFrom: 'bob', sameNameAs: [me] },
      undefined,
      me,
    )
    expect(renamed?.text).toContain('WARNING: bob [')
    expect(renamed?.text).toContain('now calls itself alice; its name "alice" reads as your own')
  })

  it('tells a relayed member that left by its presence, with its fingerprint', () => {
    const peer = { id: 'c'.repeat(64), name: 'carol' }
    expect(describeEvent({ type: 'member-left', peer })).toEqual({
      level: 'info',
      text: `carol [${shortId(peer.id)}] left the room`,
    })
  })

  it("tells the reason a relayed member left with in brackets, as a neighbour's bye is told", () => {
    const peer = { id: 'c'.repeat(64), name: 'carol' }
    expect(describeEvent({ type: 'member-left', peer, reason: 'back tomorrow' })).toEqual({
      level: 'info',
      text: `carol [${shortId(peer.id)}] left the room (back tomorrow)`,
    })
  })

  it('tells a member a neighbour lost its link to as maybe gone, naming both with their fingerprints', () => {
    const carol = { id: 'c'.repeat(64), name: 'carol' }
    const bob = { id: 'b'.repeat(64), name: 'bob' }
    expect(describeEvent({ type: 'member-lost', peer: carol, by: bob, at: 1 })).toEqual({
      level: 'info',
      text: `carol [${shortId(carol.id)}] may have left the room: bob [${shortId(bob.id)}] lost its link to carol without a goodbye`,
    })
  })

  it('says a relayed member whose messages are old wrote in the room, not that it is there', () => {
    const now = Date.now()
    const recent = describeEvent({ type: 'member', peer, via: 'relay', lastSent: now - 5_000 })
    expect(recent?.text).toBe(`alice [${shortId(peer.id)}] is in the room (through another member)`)
    const old = describeEvent({ type: 'member', peer, via: 'relay', lastSent: now - 10 * 60_000 })
    expect(old?.text).toMatch(
      new RegExp(
        `^alice \\[${shortId(peer.id)}\\] wrote in the room, messages from (\\d{4}-\\d{2}-\\d{2} )?\\d{2}:\\d{2} on \\(through another member; whether it is still there is not known\\)$`,
      ),
    )
    const days = describeEvent({ type: 'member', peer, via: 'relay', lastSent: now - 3 * 86_400_000 })
    expect(days?.text).toMatch(
      /wrote in the room, messages from \d{4}-\d{2}-\d{2} \d{2}:\d{2} on \(through another member/,
    )
  })

  it('says a member first seen in old messages is in the room now when its presence comes', () => {
    const now = Date.now()
    const wrote = describeEvent({ type: 'member', peer, via: 'relay', lastSent: now - 10 * 60_000 })
    expect(wrote?.text).toContain('whether it is still there is not known')
    const there = describeEvent({ type: 'member', peer, via: 'relay', hereAt: now })
    expect(there).toEqual({
      level: 'info',
      text: `alice [${shortId(peer.id)}] is in the room now (through another member)`,
    })
    // Renamed meanwhile: the rename is the warning, and says it is there too.
    const renamed = describeEvent({ type: 'member', peer, via: 'relay', renamedFrom: 'al', hereAt: now })
    expect(renamed?.level).toBe('warn')
    expect(renamed?.text).toMatch(
      /^WARNING: al \[.+\] now calls itself alice: .*; check the fingerprint, not the name \(it is in the room now, through another member\)$/,
    )
  })

  it('without this node’s id, lists every namesake as a key', () => {
    const line = describeEvent(connected([me]), undefined)
    expect(line?.text).toContain(
      `its name "alice" reads as a name a different key used before [${shortId(me)}]`,
    )
  })
})

describe('describeEvent for a member that left', () => {
  const carol = { id: 'c'.repeat(64), name: 'carol' }
  const short = fingerprint(carol.id).short
  const startedAt = new Date(2026, 0, 2, 9, 0, 0).getTime()

  it('tells a leaving of the moment as it is, and one from before this run started with its time', () => {
    const now = { type: 'member-left', peer: carol, at: startedAt + 5_000 } as const
    expect(describeEvent(now, undefined, undefined, { startedAt })?.text).toBe(
      `carol [${short}] left the room`,
    )
    const earlier = {
      type: 'member-left',
      peer: carol,
      at: new Date(2026, 0, 2, 8, 41, 7).getTime(),
    } as const
    expect(describeEvent(earlier, undefined, undefined, { startedAt })?.text).toBe(
      `carol [${short}] left the room at 08:41:07, before this run started`,
    )
    // Within the clocks' slack it may be of the moment.
    expect(describeEvent(earlier, undefined, undefined, { startedAt, clockSlackMs: 3_600_000 })?.text).toBe(
      `carol [${short}] left the room`,
    )
    const yesterday = {
      type: 'member-left',
      peer: carol,
      at: new Date(2026, 0, 1, 23, 59, 0).getTime(),
    } as const
    expect(describeEvent(yesterday, undefined, undefined, { startedAt })?.text).toBe(
      `carol [${short}] left the room at 2026-01-01 23:59:00, before this run started`,
    )
    expect(describeEvent({ ...earlier, reason: 'home' }, undefined, undefined, { startedAt })?.text).toBe(
      `carol [${short}] left the room (home) at 08:41:07, before this run started`,
    )
    // Without a start to compare with, no time.
    expect(describeEvent(earlier)?.text).toBe(`carol [${short}] left the room`)
  })
})
