/**
 * Reaching a node by its key and meeting by room code, end to end: real `parley` processes on a private
 * DHT whose one bootstrap node is `parley bootstrap` on 127.0.0.1 (so nothing leaves loopback, and the
 * public DHT is never contacted).
 */
import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { cpSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  bodiesOf,
  CLEAN_DELIVERY,
  crash,
  deliveryReport,
  feedLines,
  jsonEvents,
  PARLEY_BIN,
  type Proc,
  tempDir,
  useBuiltParley,
  useLoopbackBootstrap,
  waitUntil,
} from '@parley/testkit'
import { beforeAll, describe, expect, it } from 'vitest'

const { start, defer } = useBuiltParley()
const CEILING_MS = 60_000

const loopbackDht = useLoopbackBootstrap()
let bootstrap: string
beforeAll(() => {
  bootstrap = loopbackDht.address()
})

const newDataDir = () => join(tempDir(), 'data')

/** The key-only invite (`parley://FINGERPRINT`) of the identity in `dataDir`, created if needed. */
async function keyInvite(dataDir: string): Promise<string> {
  const proc = start(['invite', '--dht', '--data-dir', dataDir])
  expect(await proc.exited).toBe(0)
  expect(proc.stdout).toHaveLength(1)
  return proc.stdout[0]!
}

/** A node on the test's DHT. */
function dhtNode(args: string[]): Proc {
  return start(['--bootstrap', bootstrap, ...args])
}

/** Every line of stderr is one of ours: never a stack trace. */
function noStackTrace(proc: Proc): void {
  for (const line of proc.stderr) expect(line).not.toMatch(/^\s+at |Error:/)
}

describe('dialing by key', () => {
  it('an invite made on a private DHT tells the peer to look there too', async () => {
    const invite = start(['invite', '--bootstrap', bootstrap, '--data-dir', newDataDir()])
    expect(await invite.exited).toBe(0)
    const byKey = invite.stdout.at(-1)!
    // Its bootstrap node is on loopback: only a peer on this machine can join that DHT.
    expect(invite.stderr.at(-1)).toBe(
      `parley: on this machine only (the DHT you gave is on loopback), while you run parley --dht --bootstrap ${bootstrap}, your peer runs: parley --bootstrap ${bootstrap} --peer ${byKey}`,
    )
  })

  it('an invite made on a DHT of other hosts says the peer must reach its bootstrap node', async () => {
    // An invite only reads the identity: nothing is sent to the address.
    const far = '198.51.100.10:49737'
    const invite = start(['invite', '--bootstrap', far, '--data-dir', newDataDir()])
    expect(await invite.exited).toBe(0)
    const byKey = invite.stdout.at(-1)!
    expect(invite.stderr.at(-1)).toBe(
      `parley: wherever your peer reaches ${far}, while you run parley --dht --bootstrap ${far}, your peer runs: parley --bootstrap ${far} --peer ${byKey}`,
    )
  })

  it('a relay on a private DHT tells nodes to look there too', async () => {
    const relay = start([
      'relay',
      '--bootstrap',
      bootstrap,
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      newDataDir(),
    ])
    const key = await relay.waitFor('stdout', /^[0-9a-f]{64}$/)
    const line = await relay.waitFor('stderr', /blind relay running/)
    expect(line).toBe(
      `parley: blind relay running; nodes use it with --bootstrap ${bootstrap} --relay ${key} (Ctrl-C stops it)`,
    )
    relay.kill('SIGINT')
    expect(await relay.exited).toBe(0)
  })

  it('reaches a node by its fingerprint alone; both sides say the link is holepunched, in text and in --json', async () => {
    const bobDir = newDataDir()
    const invite = await keyInvite(bobDir)
    expect(invite).toMatch(/^parley:\/\/([a-z2-7]{4}-){13}[a-z2-7]{4}$/)
    const fingerprint = invite.slice('parley://'.length)
    const bob = dhtNode(['--dht', '--data-dir', bobDir, '--name', 'bob'])
    // The line tells others to look on this private DHT: pasted as it is, it reaches bob.
    const listening = await bob.waitFor('stderr', /listening on the DHT under your key/)
    expect(listening).toBe(
      `parley: listening on the DHT under your key: others reach you with parley --bootstrap ${bootstrap} --peer ${fingerprint}`,
    )
    const alice = dhtNode(['--peer', fingerprint, '--name', 'alice', '--json'])
    const connected = await waitForJson(alice, 'connected')
    expect(connected).toMatchObject({
      peer: 'bob',
      address: expect.stringMatching(/^dht:[0-9a-f]{64}$/),
      link: { kind: 'holepunched', remoteHost: '127.0.0.1', remotePort: expect.any(Number) },
    })
    expect(await bob.waitFor('stderr', /connected to alice/)).toMatch(
      /connected to alice \[[a-z2-7-]+\] over the DHT \(direct UDP on this machine: 127\.0\.0\.1:\d+\)/,
    )
    alice.send('hello by key')
    bob.send('hello back')
    expect(await bob.waitFor('stdout', /hello by key/)).toBe('<alice> hello by key')
    await waitUntil(() => bodiesOf(alice).includes('hello back'), CEILING_MS, 'alice to get the reply')
    // The key-only invite works as --peer too, and the 64-hex key as well.
    const carol = dhtNode(['--peer', invite, '--name', 'carol'])
    await carol.waitFor('stderr', /connected to bob \[[a-z2-7-]+\] over the DHT/)
  })

  it('keeps an allowlist on DHT links, and calls a pin on another key than the --peer key a usage error', async () => {
    const [bobDir, carolDir] = [newDataDir(), newDataDir()]
    const bobKey = (await keyInvite(bobDir)).slice('parley://'.length)
    const carolKey = (await keyInvite(carolDir)).slice('parley://'.length)
    const aliceDir = newDataDir()
    const aliceKey = (await keyInvite(aliceDir)).slice('parley://'.length)
    const malloryDir = newDataDir()
    const malloryKey = (await keyInvite(malloryDir)).slice('parley://'.length)
    const allowed = ['--allow', aliceKey, '--allow', malloryKey]
    const bob = dhtNode(['--dht', '--data-dir', bobDir, '--name', 'bob', ...allowed])
    await bob.waitFor('stderr', /listening on the DHT/)

    // Pinned to carol's key, bob's key address can only ever prove bob's: said at once, nothing dialed.
    const pinned = dhtNode([
      '--peer',
      bobKey,
      '--peer-key',
      carolKey,
      '--name',
      'mallory',
      '--data-dir',
      malloryDir,
    ])
    expect(await pinned.exited).toBe(2)
    expect(pinned.stderr).toEqual([
      `parley: --peer-key ${carolKey} contradicts its --peer ${bobKey}: a peer given by its key must prove that very key; drop the --peer-key, or give the --peer you meant (see --help)`,
    ])

    // Not on bob's allowlist: bob drops carol, and says so.
    const carol = dhtNode(['--peer', bobKey, '--data-dir', carolDir, '--name', 'carol'])
    await bob.waitFor('stderr', /dropped: its key is not on the allowlist/)
    // Alice is allowed: the same DHT link works.
    const alice = dhtNode(['--peer', bobKey, '--data-dir', aliceDir, '--name', 'alice'])
    alice.send('allowed')
    expect(await bob.waitFor('stdout', /allowed/)).toBe('<alice> allowed')
    expect(bob.stdout.join('\n')).not.toMatch(/carol/)
    expect(carol.stderr.join('\n')).not.toMatch(/connected to bob/)
  })
})

describe('rooms by code', () => {
  it('parley room prints a code; the first member hears once that the room is empty, then members meet and chat', async () => {
    const room = start(['room'])
    expect(await room.exited).toBe(0)
    const code = room.stdout.at(-1)!
    expect(code).toMatch(/^[0-9a-z]{4}(-[0-9a-z]{1,4}){6}$/)
    expect(room.stderr).toEqual([`parley: a new room; everyone who should join runs: parley --room ${code}`])
    // On a private DHT, everyone is told to meet there.
    const onOurs = start(['room', '--bootstrap', bootstrap])
    expect(await onOurs.exited).toBe(0)
    expect(onOurs.stderr).toEqual([
      `parley: a new room; everyone who should join runs: parley --bootstrap ${bootstrap} --room ${onOurs.stdout.at(-1)}`,
    ])
    const alice = dhtNode(['--room', code, '--name', 'alice'])
    await alice.waitFor('stderr', /nobody else is in room .* yet; waiting/)
    const bob = dhtNode(['--room', code, '--name', 'bob'])
    await bob.waitFor('stderr', /connected to alice .*over the DHT/)
    await alice.waitFor('stderr', /connected to bob .*over the DHT/)
    // A third member is carried the messages of the others, however they met.
    const carol = dhtNode(['--room', code, '--name', 'carol', '--json'])
    await waitUntil(() => jsonEvents(carol, 'connected').length === 2, CEILING_MS, 'carol to meet both')
    alice.send('hi room')
    expect(await bob.waitFor('stdout', /hi room/)).toBe('<alice> hi room')
    await waitUntil(() => bodiesOf(carol).includes('hi room'), CEILING_MS, 'carol to get it')
    // Alice is announced before she hears the room is empty, but a DHT lookup can still miss a node that
    // was just stored on a loaded machine: bob may then hear it too, once, and finds her on the next look.
    expect(bob.stderr.filter((l) => l.includes('nobody else')).length).toBeLessThanOrEqual(1)
    expect(alice.stderr.filter((l) => l.includes('nobody else'))).toHaveLength(1)
  })

  it('piped /peers in a room answers once the members its lookup found are linked', async () => {
    const room = start(['room'])
    expect(await room.exited).toBe(0)
    const code = room.stdout.at(-1)!
    const alice = dhtNode(['--room', code, '--name', 'alice', '--recv-only'])
    await alice.waitFor('stderr', /nobody else is in room/)
    const bob = dhtNode(['--room', code, '--name', 'bob', '--recv-only'])
    await bob.waitFor('stderr', /connected to alice .*over the DHT/)
    const carol = dhtNode(['--room', code, '--name', 'carol'])
    carol.child.stdin.end('/peers\n')
    expect(await carol.exited).toBe(0)
    expect(carol.stderr.join('\n')).toMatch(/(alice|bob) \[[a-z2-7-]+\] direct, connected/)
    expect(carol.stderr.join('\n')).not.toMatch(/no members yet/)
    noStackTrace(carol)
  })

  it('--json says once that the room is empty, then nothing more until someone joins', async () => {
    const room = start(['room'])
    expect(await room.exited).toBe(0)
    const code = room.stdout.at(-1)!
    const alice = dhtNode(['--room', code, '--name', 'alice', '--json'])
    const empty = await waitForJson(alice, 'room-empty')
    expect(empty).toEqual({ type: 'room-empty', room: code })
    const bob = dhtNode(['--room', code, '--name', 'bob', '--json'])
    await waitForJson(alice, 'connected')
    await waitForJson(bob, 'connected')
    // Once, after listening; bob found alice there, so he hears nothing of the kind.
    expect(jsonEvents(alice, 'room-empty')).toHaveLength(1)
    expect(alice.stdout.findIndex((l) => l.includes('"listening"'))).toBeLessThan(
      alice.stdout.findIndex((l) => l.includes('"room-empty"')),
    )
    expect(jsonEvents(bob, 'room-empty')).toHaveLength(0)
    // JSON mode keeps stderr free of the text form.
    expect(alice.stderr.join('\n')).not.toMatch(/nobody else/)
  })

  it('an allowlist holds in a room too: a member found there that is not on it is refused, whoever dialed', async () => {
    const room = start(['room'])
    expect(await room.exited).toBe(0)
    const code = room.stdout.at(-1)!
    const aliceDir = newDataDir()
    const id = start(['id', '--data-dir', aliceDir])
    expect(await id.exited).toBe(0)
    const aliceFp = id.stdout.at(-1)!
    const alice = dhtNode(['--room', code, '--name', 'alice', '--data-dir', aliceDir])
    await alice.waitFor('stderr', /nobody else is in room/)
    const mallory = dhtNode(['--room', code, '--name', 'mallory'])
    await mallory.waitFor('stderr', /connected to alice/)
    // Bob comes last: he finds both in the room and opens the links to them himself.
    const bob = dhtNode(['--room', code, '--name', 'bob', '--allow', aliceFp])
    await bob.waitFor('stderr', /connected to alice .*over the DHT/)
    await bob.waitFor('stderr', /allowlist/)
    mallory.send('from mallory')
    alice.send('from alice')
    expect(await bob.waitFor('stdout', /from alice/)).toBe('<alice> from alice')
    // Mallory's line reached alice; bob, who allows only alice, never linked with mallory. (Relayed
    // through alice it would come: an allowlist says who may link, not whose words a member passes on.)
    await alice.waitFor('stdout', /from mallory/)
    expect(bob.stderr.join('\n')).not.toMatch(/connected to mallory/)
    noStackTrace(bob)
  })

  it('a node with another code is not in the room', async () => {
    const [one, two] = [start(['room']), start(['room'])]
    await Promise.all([one.exited, two.exited])
    const alice = dhtNode(['--room', one.stdout.at(-1)!, '--name', 'alice'])
    await alice.waitFor('stderr', /nobody else is in room/)
    const eve = dhtNode(['--room', two.stdout.at(-1)!, '--name', 'eve'])
    // Eve's own room is empty too: the two rooms are different topics.
    await eve.waitFor('stderr', /nobody else is in room/)
    const bob = dhtNode(['--room', one.stdout.at(-1)!, '--name', 'bob'])
    await bob.waitFor('stderr', /connected to alice/)
    expect(alice.stderr.join('\n')).not.toMatch(/connected to eve/)
    expect(eve.stderr.join('\n')).not.toMatch(/connected to/)
  })
})

describe('two nodes running with one key in a room', () => {
  it('the members keep the copy they chose and say so once; the copy turned away is told; the kept one is heard', async () => {
    const code = await roomCode()
    const bob = dhtNode(['--room', code, '--name', 'bob', '--recv-only'])
    await bob.waitFor('stderr', /nobody else is in room/)
    const carol = dhtNode(['--room', code, '--name', 'carol', '--recv-only'])
    await carol.waitFor('stderr', /connected to bob/)
    const aliceDir = newDataDir()
    const id = start(['id', '--data-dir', aliceDir])
    expect(await id.exited).toBe(0)
    const copyDir = join(tempDir(), 'alice2')
    cpSync(aliceDir, copyDir, { recursive: true })
    const alice = ['--room', code, '--name', 'alice', '--json']
    const one = dhtNode([...alice, '--data-dir', aliceDir])
    await bob.waitFor('stderr', /connected to alice/)
    const two = dhtNode([...alice, '--data-dir', copyDir])

    const twoNodes = /two nodes are running with alice's key/
    await bob.waitFor('stderr', twoNodes)
    await carol.waitFor('stderr', twoNodes)
    // Both copies speak: the kept one's words reach both members, over the link they kept. (Whether the
    // swarm's own redials of the copy turned away leave that link alone is proven in the transport's
    // tests: their timing is the swarm's.)
    one.send('from copy one')
    two.send('from copy two')
    const heard = await bob.waitFor('stdout', /<alice> from copy (one|two)/)
    const turnedAway = heard.endsWith('one') ? two : one
    await carol.waitFor('stdout', new RegExp(heard.replace(/[<>]/g, '.')))
    await waitUntil(
      () => jsonEvents(turnedAway, 'key-in-use').length > 0,
      CEILING_MS,
      'the copy turned away told why',
    )
    expect(bob.stderr.filter((l) => twoNodes.test(l))).toHaveLength(1)
    expect(carol.stderr.filter((l) => twoNodes.test(l))).toHaveLength(1)
    expect(jsonEvents(turnedAway, 'key-in-use')).toHaveLength(1)
    noStackTrace(bob)
  })
})

describe('TCP and DHT links in one node', () => {
  it('a hub listens on TCP and on the DHT; a member by TCP and a member by key chat through it', async () => {
    const hubDir = newDataDir()
    const hubKey = (await keyInvite(hubDir)).slice('parley://'.length)
    const hub = dhtNode(['--dht', '--listen', '127.0.0.1:0', '--data-dir', hubDir, '--name', 'hub'])
    const port = Number(
      /listening on 127\.0\.0\.1:(\d+)/.exec(await hub.waitFor('stderr', /listening on 127/))![1],
    )
    const tcp = start(['--peer', `127.0.0.1:${port}`, '--listen', '127.0.0.1:0', '--name', 'tcpuser'])
    const byKey = dhtNode(['--peer', hubKey, '--name', 'dhtuser', '--json'])
    await hub.waitFor('stderr', /connected to tcpuser .*\(direct TCP\)/)
    await hub.waitFor(
      'stderr',
      /connected to dhtuser \[[a-z2-7-]+\] over the DHT \(direct UDP on this machine/,
    )
    tcp.send('from tcp')
    await waitUntil(() => bodiesOf(byKey).includes('from tcp'), CEILING_MS, 'the DHT member to get it')
    byKey.send('from dht')
    expect(await tcp.waitFor('stdout', /from dht/)).toBe('<dhtuser> from dht')
  })
})

describe('/connect by key', () => {
  it('on a node without the DHT: one line saying to restart with --dht or give HOST:PORT, and no dial; with the DHT it dials by key', async () => {
    const bobDir = newDataDir()
    const fingerprint = (await keyInvite(bobDir)).slice('parley://'.length)
    const bob = dhtNode(['--dht', '--data-dir', bobDir, '--name', 'bob'])
    await bob.waitFor('stderr', /listening on the DHT/)

    const tcpOnly = start(['--listen', '127.0.0.1:0', '--name', 'alice'])
    await tcpOnly.waitFor('stderr', /listening on 127/)
    tcpOnly.send(`/connect ${fingerprint}`)
    const line = await tcpOnly.waitFor('stderr', /cannot dial key/)
    expect(line).toMatch(
      /^parley: cannot dial key \[[a-z2-7]{4}-[a-z2-7]{4}\]: this node is not on the DHT; restart parley with --dht .*or use \/connect HOST:PORT$/,
    )
    // Nothing was left redialing: asking again gets the same line, not "already dialing".
    tcpOnly.send(`/connect ${fingerprint}`)
    await waitUntil(
      () => tcpOnly.stderr.filter((l) => l === line).length === 2,
      CEILING_MS,
      'the same line a second time',
    )
    expect(tcpOnly.stderr.join('\n')).not.toMatch(/dialing|already|cannot reach/)

    const onDht = dhtNode(['--name', 'carol', '--data-dir', newDataDir()])
    await onDht.waitFor('stderr', /listening on the DHT/)
    onDht.send(`/connect ${fingerprint}`)
    await onDht.waitFor('stderr', /connected to bob \[[a-z2-7-]+\] over the DHT \(direct UDP on this machine/)
    onDht.send('by key from the prompt')
    expect(await bob.waitFor('stdout', /by key from the prompt/)).toBe('<carol> by key from the prompt')
    noStackTrace(tcpOnly)
  })
})

describe('a crash over a DHT link', () => {
  it('kill -9 of the receiver and a restart under the same key: nothing lost, nothing duplicated', async () => {
    const bobDir = newDataDir()
    const bobKey = (await keyInvite(bobDir)).slice('parley://'.length)
    const bobArgs = ['--dht', '--data-dir', bobDir, '--name', 'bob', '--json', '--recv-only', '--rate', '0']
    const first = dhtNode(bobArgs)
    await waitForJson(first, 'listening')
    // A killed peer sends nothing more, and UDP brings no reset: silence is what tells, so keep it short.
    const aliceArgs = ['--peer', bobKey, '--name', 'alice', '--data-dir', newDataDir(), '--json']
    const alice = dhtNode([...aliceArgs, '--dead-after', '2', '--wait', '60'])
    await waitForJson(alice, 'connected')
    const sent = Array.from({ length: 300 }, (_, i) => `line ${i}`)
    const feeding = feedLines(alice, sent, { batch: 10, pauseMs: 5 })
    await waitUntil(() => bodiesOf(first).length >= 50, CEILING_MS, 'bob to show some lines')
    await crash(first)
    const second = dhtNode(bobArgs)
    await feeding
    alice.end()
    // Alice exits 0 only once bob acknowledged every line; each was delivered once.
    expect(await alice.exited).toBe(0)
    const delivered = jsonEvents(alice, 'delivered').map((e) => e.id)
    expect(new Set(delivered).size).toBe(sent.length)
    // Shown once each, but for the last write before the kill, which may show again (see faults.e2e).
    const before = bodiesOf(first)
    const shownAll = () => new Set([...before, ...bodiesOf(second)]).size === sent.length
    await waitUntil(shownAll, CEILING_MS, 'bob to show every line')
    const parted = new Set(before.slice(-40))
    const after = bodiesOf(second).filter((body) => !(parted.delete(body) && before.includes(body)))
    expect(deliveryReport(sent, [...before, ...after])).toEqual(CLEAN_DELIVERY)
    // And the journal holds each line once.
    second.kill('SIGTERM')
    await second.exited
    const replay = dhtNode([...bobArgs, '--history', String(sent.length)])
    await waitUntil(() => jsonEvents(replay, 'history').length >= sent.length, CEILING_MS, 'the history')
    expect(deliveryReport(sent, bodiesOf(replay, 'history'))).toEqual(CLEAN_DELIVERY)
  })
})

describe('errors, one line each', () => {
  it('a bootstrap node whose port is taken cannot listen: exit 3, as for a chat node, with the way out', async () => {
    // The test's own bootstrap node holds its port: a second one there cannot run.
    const second = start(['bootstrap', '--listen', bootstrap])
    expect(await second.exited).toBe(3)
    expect(second.stderr).toEqual([
      `parley: cannot run a bootstrap node on ${bootstrap}: its UDP port is in use; choose another with --listen HOST:PORT`,
    ])
    // And one given no address is told to give one, not put on the chat node's default port.
    const nowhere = start(['bootstrap'])
    expect(await nowhere.exited).toBe(2)
    expect(nowhere.stderr).toEqual([
      expect.stringMatching(/^parley: parley bootstrap needs --listen HOST:PORT/),
    ])
  })

  it('a bootstrap node told to listen on every interface or on a name is a usage error (exit 2) with the way out', async () => {
    for (const listen of ['0.0.0.0:0', 'localhost:0']) {
      const wildcard = start(['bootstrap', '--listen', listen])
      expect(await wildcard.exited).toBe(2)
      expect(wildcard.stderr).toEqual([
        `parley: a bootstrap node runs at the one IPv4 address others reach it at, not at ${listen.slice(0, -2)}: give this machine's address, such as 198.51.100.10:49737 (127.0.0.1:0 for a DHT on this machine only) (see --help)`,
      ])
    }
  })

  it('no node announces the key: one line with the hint, and exit 8 with the messages kept', async () => {
    const nobody = await keyInvite(newDataDir())
    const alice = dhtNode(['--peer', nobody, '--name', 'alice', '--wait', '1'])
    alice.send('anyone?')
    const line = await alice.waitFor('stderr', /no node announces/)
    expect(line).toMatch(/is it running with --dht/)
    alice.end()
    expect(await alice.exited).toBe(8)
    expect(alice.stderr.filter((l) => /cannot reach key/.test(l))).toHaveLength(1)
    expect(alice.stderr.join('\n')).toMatch(/safe in the outbox/)
    // The hint once, with the dial; the closing line names the key for the exit code.
    expect(alice.stderr.filter((l) => /is it running with --dht/.test(l))).toHaveLength(1)
    expect(alice.stderr.at(-1)).toMatch(
      /^parley: no node announces \[[a-z2-7]{4}-[a-z2-7]{4}\] on the DHT \(see above\)$/,
    )
    noStackTrace(alice)
  })

  it('a send with a file as stdin names its key on the DHT without inviting others to reach it', async () => {
    const nobody = await keyInvite(newDataDir())
    const dir = tempDir()
    const file = join(dir, 'lines.txt')
    writeFileSync(file, 'anyone?\n')
    const args = ['--bootstrap', bootstrap, '--peer', nobody, '--wait', '1', '--data-dir', join(dir, 'data')]
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], {
      stdio: [openSync(file, 'r'), 'ignore', 'pipe'],
      env: { ...process.env, PARLEY_DEBUG: '' },
    })
    let said = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      expect(await exited).toBe(8)
    } finally {
      child.kill('SIGKILL')
    }
    expect(said).toMatch(/^parley: listening on the DHT under your key \[[a-z2-7]{4}-[a-z2-7]{4}\]$/m)
    expect(said).not.toMatch(/others reach you/)
  })

  it('a node that quit takes its key off the DHT: the next dial is told nobody announces it, exit 8', async () => {
    const bobDir = newDataDir()
    const fingerprint = (await keyInvite(bobDir)).slice('parley://'.length)
    const bob = dhtNode(['--dht', '--data-dir', bobDir, '--name', 'bob', '--recv-only'])
    await bob.waitFor('stderr', /listening on the DHT under your key/)
    bob.kill('SIGTERM')
    expect(await bob.exited).toBe(0)
    const alice = dhtNode(['--peer', fingerprint, '--name', 'alice', '--wait', '1'])
    alice.send('still there?')
    alice.end()
    expect(await alice.exited).toBe(8)
    // Not "the node announcing … did not answer": an announcement left behind by the node that quit.
    expect(alice.stderr.filter((l) => /cannot reach key/.test(l))).toEqual([
      expect.stringMatching(
        /^parley: cannot reach key \[[a-z2-7]{4}-[a-z2-7]{4}\]: no node announces it on the DHT; is it running with --dht/,
      ),
    ])
    noStackTrace(alice)
  })

  it('no bootstrap node reachable: exit 9 suggesting --bootstrap; the public DHT is refused in tests; --plain stays TCP', async () => {
    const unreachable = start(['--dht', '--bootstrap', '127.0.0.1:9', '--recv-only'])
    expect(await unreachable.exited).toBe(9)
    // The wait for an answer takes seconds: said once, as it starts.
    expect(unreachable.stderr).toEqual([
      'parley: joining the DHT (bootstrap 127.0.0.1:9)…',
      'parley: no bootstrap node answered (127.0.0.1:9); check the network, or name reachable ones with --bootstrap HOST:PORT',
    ])
    const publicDht = start(['--dht', '--recv-only'])
    expect(await publicDht.exited).toBe(9)
    expect(publicDht.stderr).toEqual([expect.stringMatching(/PARLEY_DHT_PRIVATE_ONLY is set.*--bootstrap/)])
    const plain = start(['--plain', '--dht'])
    expect(await plain.exited).toBe(2)
    expect(plain.stderr).toEqual([expect.stringMatching(/--plain is TCP only/)])
    const badRoom = start(['--room', 'abcd-efgh'])
    expect(await badRoom.exited).toBe(2)
    expect(badRoom.stderr).toEqual([expect.stringMatching(/--room: "abcd-efgh" is not a room code/)])
  })
})

describe('a signal while joining the DHT', () => {
  /** A UDP port that takes every packet and answers none: a bootstrap node that never answers. */
  async function silentBootstrap(): Promise<string> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    defer(() => new Promise<void>((resolve) => socket.close(() => resolve())))
    return `127.0.0.1:${socket.address().port}`
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s stops the start at once, after the line that says what it waits for: exit 0, as a quit',
    async (signal) => {
      const silent = await silentBootstrap()
      const dir = newDataDir()
      const fingerprint = (await keyInvite(newDataDir())).slice('parley://'.length)
      const alice = start(['--bootstrap', silent, '--peer', fingerprint, '--data-dir', dir])
      await alice.waitFor('stderr', /joining the DHT/)
      alice.kill(signal)
      // Without the stop it waited ~6 s for the silent node, then said none answered (exit 9).
      expect(await alice.exited).toBe(0)
      expect(alice.stderr).toEqual([
        `parley: joining the DHT (bootstrap ${silent})…`,
        'parley: stopped while joining the DHT; nothing was sent',
      ])
    },
  )

  it('keeps the outbox of an earlier run: the next run still has it to send', async () => {
    const dir = newDataDir()
    // A peer that never answers; port 0 to listen on, as the default may be taken by a test beside it.
    const offline = ['--listen', '127.0.0.1:0', '--peer', '127.0.0.1:9', '--data-dir', dir]
    // An earlier run left one message in the outbox (no peer answered).
    const earlier = start([...offline, '--wait', '1'])
    earlier.send('kept for later')
    earlier.end()
    expect(await earlier.exited).toBe(7)
    const silent = await silentBootstrap()
    // Its message was written for a chat without a room: the room may have it (--share-history).
    const room = ['--room', await roomCode(), '--share-history']
    const alice = start(['--bootstrap', silent, ...room, '--data-dir', dir])
    await alice.waitFor('stderr', /joining the DHT/)
    alice.kill('SIGINT')
    expect(await alice.exited).toBe(0)
    expect(alice.stderr.at(-1)).toBe('parley: stopped while joining the DHT; nothing was sent')
    const later = start([...offline, '--recv-only'])
    await later.waitFor('stderr', /^parley: 1 message\(s\) from an earlier run wait in the outbox/)
  })
})

async function roomCode(): Promise<string> {
  const room = start(['room'])
  expect(await room.exited).toBe(0)
  return room.stdout.at(-1)!
}

async function waitForJson(proc: Proc, type: string): Promise<Record<string, unknown>> {
  await waitUntil(() => jsonEvents(proc, type).length > 0, CEILING_MS, `a ${type} event from ${proc.label}`)
  return jsonEvents(proc, type)[0]!
}
