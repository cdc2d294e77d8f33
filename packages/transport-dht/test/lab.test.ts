import { execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import {
  buildLab,
  LAB_ADDRESSES,
  type Lab,
  type LabHost,
  labUnavailableReason,
  sweepStaleLabs,
} from '@parley/netlab'
import { PARLEY_BIN, tempDir as runTempDir } from '@parley/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createRoomCode } from '../src/room-code.js'
import { Agent, type AgentEvent, assertBuilt, startAgent, startScript } from './agent/run.js'

// Runs real node processes on this transport inside network namespaces: two homes behind NATs, an
// internet with three bootstrap nodes and a public host for a relay. Needs root, iproute2 and iptables.
const unavailable = labUnavailableReason()
if (unavailable !== undefined) console.warn(`NAT lab tests skipped: ${unavailable}`)

const A = LAB_ADDRESSES
const BOOTSTRAP = A.bootstrap.map((host) => `${host}:${A.bootstrapPort}`).join(',')

let lab: Lab
let relayKey: string
const services: Agent[] = []
let agents: Agent[] = []
/** parley processes stop on SIGTERM (a receiver does not read stdin), saying bye and unannouncing. */
let parleys: Agent[] = []

function agentIn(host: LabHost, args: string[]): Agent {
  const agent = startAgent(['--bootstrap', BOOTSTRAP, ...args], lab.inside(host))
  agents.push(agent)
  return agent
}

async function ready(agent: Agent): Promise<string> {
  const event = await agent.next((e) => e.event === 'listening' || e.event === 'error')
  if (event.event === 'error') throw new Error(`agent failed: ${event.message}`)
  return (await agent.event('ready')).key as string
}

function linkTo(agent: Agent, key: string): Promise<AgentEvent> {
  return agent
    .next((e) => (e.event === 'link' && e.remoteKey === key) || e.event === 'error')
    .then((e) => {
      if (e.event === 'error') throw new Error(`agent failed: ${e.code}: ${e.message}`)
      return e
    })
}

function greeted(agent: Agent, key: string): Promise<AgentEvent> {
  return agent.event('data', (e) => e.text === `hello from ${key}`)
}

async function probe(from: LabHost, server: LabHost, address: string): Promise<string> {
  const serving = startScript('probe.mjs', ['serve', address], lab.inside(server))
  agents.push(serving)
  const { port } = await serving.event('serving')
  const client = startScript('probe.mjs', ['connect', address, String(port)], lab.inside(from))
  agents.push(client)
  const result = await client.next((e) => e.event === 'reached' || e.event === 'failed')
  return result.event === 'reached' ? 'reached' : `failed ${result.code}`
}

/** The real `parley` inside `host`, on the lab's DHT, printing `--json` events (read as an Agent's). */
function parleyIn(host: LabHost, args: string[]): Agent {
  const argv = [
    ...lab.inside(host),
    process.execPath,
    PARLEY_BIN,
    '--bootstrap',
    BOOTSTRAP,
    '--json',
    ...args,
  ]
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PARLEY_DHT_PRIVATE_ONLY: '1', XDG_DATA_HOME: tempDir() },
  })
  child.stdin.on('error', () => undefined)
  const agent = new Agent(child)
  parleys.push(agent)
  return agent
}

/** `parley relay` on the lab's public host; resolves with the key it prints. */
function parleyRelay(): Promise<string> {
  const dir = join(tempDir(), 'relay')
  const argv = [...lab.inside('public'), process.execPath, PARLEY_BIN, 'relay', '--bootstrap', BOOTSTRAP]
  const child = spawn(argv[0] as string, [...argv.slice(1), '--listen', `${A.public}:0`, '--data-dir', dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PARLEY_DHT_PRIVATE_ONLY: '1' },
  })
  parleys.push(new Agent(child))
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer | string) => {
      text += chunk.toString()
      const key = /^([0-9a-f]{64})$/m.exec(text)?.[1]
      if (key) resolve(key)
    })
    child.once('exit', (code) => reject(new Error(`parley relay exited with ${code}`)))
  })
}

function tempDir(): string {
  return runTempDir('parley-lab-')
}

/** A data dir with an identity in it, and that identity's key (hex). */
function identity(): { dir: string; key: string } {
  const dir = join(tempDir(), 'data')
  const out = execFileSync(process.execPath, [PARLEY_BIN, 'id', '--json', '--data-dir', dir], {
    encoding: 'utf8',
  })
  const key = (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { id: string }).id
  return { dir, key }
}

/** The parley's `connected` event for `key`; fails fast on a dial that gave up. */
function connectedTo(proc: Agent, key: string): Promise<AgentEvent> {
  return proc
    .next((e) => (e.type === 'connected' && e.peerId === key) || (e.type === 'state' && e.state === 'failed'))
    .then((e) => {
      if (e.type !== 'connected') throw new Error(`parley gave up: ${e.code}: ${e.reason}`)
      return e
    })
}

function said(proc: Agent, body: string): Promise<AgentEvent> {
  return proc.next((e) => e.type === 'message' && e.body === body)
}

function send(proc: Agent, line: string): void {
  proc.child.stdin?.write(`${line}\n`)
}

describe.skipIf(unavailable !== undefined)('NAT lab', () => {
  beforeAll(async () => {
    assertBuilt()
    lab = await buildLab()
    const bootstrap = startScript(
      'services.mjs',
      ['bootstrap', A.bootstrap.join(','), String(A.bootstrapPort)],
      lab.inside('inet'),
    )
    services.push(bootstrap)
    await bootstrap.event('ready')
    const relay = startScript(
      'services.mjs',
      ['relay', '--bootstrap', BOOTSTRAP, '--host', A.public],
      lab.inside('public'),
    )
    services.push(relay)
    relayKey = (await relay.event('ready')).key as string
  }, 60_000)

  afterEach(async () => {
    for (const proc of parleys) proc.child.kill('SIGTERM')
    await Promise.all(parleys.map((proc) => proc.exited))
    parleys = []
    await Promise.all(agents.map((agent) => agent.stop()))
    for (const agent of agents) agent.kill()
    agents = []
  })

  afterAll(async () => {
    for (const service of services) service.kill()
    await lab?.destroy()
  })

  it('keeps the two homes apart: neither host can reach the other’s private address', async () => {
    expect(await probe('hostB', 'hostA', A.hostA)).toMatch(/^failed/)
    expect(await probe('hostA', 'hostB', A.hostB)).toMatch(/^failed/)
    // Controls: the probe does work where a path exists.
    expect(await probe('hostA2', 'hostA', A.hostA)).toBe('reached')
    expect(await probe('hostA', 'inet', A.bootstrap[0])).toBe('reached')
  })

  it('links two hosts behind two NATs by key alone, holepunched, and carries data both ways', async () => {
    const alice = agentIn('hostA', ['--listen'])
    const aliceKey = await ready(alice)
    const bob = agentIn('hostB', ['--dial', aliceKey])
    const bobKey = await ready(bob)
    const atBob = await linkTo(bob, aliceKey)
    await linkTo(alice, bobKey)
    // Bob sees Alice at her router's internet address: the path goes through both NATs, not around them.
    expect(atBob.path).toMatchObject({ kind: 'holepunched', remoteHost: A.routerA.wan })
    await greeted(bob, aliceKey)
    await greeted(alice, bobKey)
    console.info(`lab: start to first link by key ${atBob.ms} ms (dialer process start → link)`)
  })

  it('lets two hosts behind two NATs meet by a room code alone', async () => {
    const code = createRoomCode()
    const alice = agentIn('hostA', ['--room', code])
    const bob = agentIn('hostB', ['--room', code])
    const [aliceKey, bobKey] = await Promise.all([ready(alice), ready(bob)])
    const [atAlice, atBob] = await Promise.all([linkTo(alice, bobKey), linkTo(bob, aliceKey)])
    expect(atAlice.purpose).toEqual({ kind: 'room', code })
    expect(atBob.purpose).toEqual({ kind: 'room', code })
    await greeted(alice, bobKey)
    await greeted(bob, aliceKey)
  })

  it('links two hosts on one home network, by key and by room', async () => {
    const alice = agentIn('hostA', ['--listen'])
    const aliceKey = await ready(alice)
    const neighbour = agentIn('hostA2', ['--dial', aliceKey])
    const neighbourKey = await ready(neighbour)
    // The path stays inside the home network: router A does no hairpin NAT, so only HyperDHT's LAN shortcut
    // can connect the two.
    expect((await linkTo(neighbour, aliceKey)).path).toMatchObject({
      kind: 'holepunched',
      remoteHost: A.hostA,
    })
    await greeted(alice, neighbourKey)

    const code = createRoomCode()
    const first = agentIn('hostA', ['--room', code])
    const second = agentIn('hostA2', ['--room', code])
    const [firstKey, secondKey] = await Promise.all([ready(first), ready(second)])
    await Promise.all([linkTo(first, secondKey), linkTo(second, firstKey)])
    await greeted(first, secondKey)
    await greeted(second, firstKey)
  })

  describe('real parley processes', () => {
    it('chat by fingerprint through both NATs', async () => {
      const bob = identity()
      const atBob = parleyIn('hostB', ['--dht', '--data-dir', bob.dir, '--name', 'bob', '--recv-only'])
      await atBob.next((e) => e.type === 'listening')
      const spawned = performance.now()
      const alice = parleyIn('hostA', ['--peer', bob.key, '--name', 'alice'])
      const link = await connectedTo(alice, bob.key)
      const ms = Math.round(performance.now() - spawned)
      expect(link.link).toMatchObject({ kind: 'holepunched', remoteHost: A.routerB.wan })
      console.info(`lab: parley spawn to first link by key ${ms} ms`)
      send(alice, 'hello through two NATs')
      await said(atBob, 'hello through two NATs')
    })

    it('kill -9 behind a NAT and a restart: nothing lost, nothing duplicated', async () => {
      const bob = identity()
      const bobArgs = ['--dht', '--data-dir', bob.dir, '--name', 'bob', '--recv-only', '--rate', '0']
      const first = parleyIn('hostB', bobArgs)
      await first.next((e) => e.type === 'listening')
      const alice = parleyIn('hostA', [
        '--peer',
        bob.key,
        '--name',
        'alice',
        '--dead-after',
        '2',
        '--wait',
        '60',
      ])
      await connectedTo(alice, bob.key)
      const lines = Array.from({ length: 100 }, (_, i) => `lab line ${i}`)
      for (const line of lines.slice(0, 50)) send(alice, line)
      await said(first, 'lab line 20')
      first.kill()
      await first.exited
      const second = parleyIn('hostB', bobArgs)
      for (const line of lines.slice(50)) send(alice, line)
      alice.child.stdin?.end()
      expect(await alice.exited).toBe(0)
      const delivered = alice.events.filter((e) => e.type === 'delivered').map((e) => e.id)
      expect(new Set(delivered).size).toBe(lines.length)
      await said(second, 'lab line 99')
      const shown = [first, second].flatMap((p) =>
        p.events.filter((e) => e.type === 'message').map((e) => e.body),
      )
      // Everything shown, in order; only the last write before the kill may show again after it.
      expect(new Set(shown)).toEqual(new Set(lines))
      expect(shown.length - lines.length).toBeLessThanOrEqual(40)
    })

    it('two nodes meet by a room code alone', async () => {
      const code = createRoomCode()
      const [alice, bob] = [identity(), identity()]
      const atAlice = parleyIn('hostA', ['--room', code, '--data-dir', alice.dir, '--name', 'alice'])
      const atBob = parleyIn('hostB', ['--room', code, '--data-dir', bob.dir, '--name', 'bob'])
      await Promise.all([connectedTo(atAlice, bob.key), connectedTo(atBob, alice.key)])
      send(atBob, 'met by code')
      await said(atAlice, 'met by code')
    })

    it('two hosts behind the same router connect by key and by room', async () => {
      const [alice, neighbour] = [identity(), identity()]
      const atAlice = parleyIn('hostA', ['--dht', '--data-dir', alice.dir, '--name', 'alice', '--recv-only'])
      await atAlice.next((e) => e.type === 'listening')
      const byKey = parleyIn('hostA2', ['--peer', alice.key, '--data-dir', neighbour.dir, '--name', 'nb'])
      const link = await connectedTo(byKey, alice.key)
      expect(link.link).toMatchObject({ kind: 'holepunched', remoteHost: A.hostA })
      send(byKey, 'next door by key')
      await said(atAlice, 'next door by key')

      const code = createRoomCode()
      const [first, second] = [identity(), identity()]
      const one = parleyIn('hostA', ['--room', code, '--data-dir', first.dir, '--name', 'one'])
      const two = parleyIn('hostA2', ['--room', code, '--data-dir', second.dir, '--name', 'two'])
      await Promise.all([connectedTo(one, second.key), connectedTo(two, first.key)])
      send(two, 'next door by room')
      await said(one, 'next door by room')
    })
  })

  describe('with both NATs randomized', () => {
    beforeAll(() => lab.randomize(true))
    afterAll(() => lab?.randomize(false))

    it('falls back to the relay on the public host and still delivers, end to end to the peer’s key', async () => {
      const relay = ['--relay', relayKey, '--random-punch-ms', '1000']
      const alice = agentIn('hostA', ['--listen', ...relay])
      const aliceKey = await ready(alice)
      const bob = agentIn('hostB', ['--dial', aliceKey, ...relay])
      const bobKey = await ready(bob)
      const atBob = await linkTo(bob, aliceKey)
      expect(atBob.path).toMatchObject({ kind: 'relayed', relayKey, relayHost: A.public })
      await linkTo(alice, bobKey)
      await greeted(bob, aliceKey)
      await greeted(alice, bobKey)
      console.info(`lab: start to first relayed link by key ${atBob.ms} ms`)
    })

    it('real parley processes fall back to a parley relay and still deliver', async () => {
      const bob = identity()
      const parleyRelayKey = await parleyRelay()
      const relay = ['--relay', parleyRelayKey]
      const atBob = parleyIn('hostB', [
        '--dht',
        '--data-dir',
        bob.dir,
        '--name',
        'bob',
        '--recv-only',
        ...relay,
      ])
      await atBob.next((e) => e.type === 'listening')
      const spawned = performance.now()
      const alice = parleyIn('hostA', ['--peer', bob.key, '--name', 'alice', ...relay])
      const link = await connectedTo(alice, bob.key)
      const ms = Math.round(performance.now() - spawned)
      expect(link.link).toMatchObject({ kind: 'relayed', relayKey: parleyRelayKey })
      console.info(`lab: parley spawn to first relayed link ${ms} ms`)
      send(alice, 'through the relay')
      await said(atBob, 'through the relay')
    })
  })
})

// Its own lab: DHT nodes that stalled leave the relay of the lab above unannounced for minutes.
describe.skipIf(unavailable !== undefined)('NAT lab whose DHT nodes stall', () => {
  let dhtNodes: Agent

  beforeAll(async () => {
    assertBuilt()
    lab = await buildLab()
    dhtNodes = startScript(
      'services.mjs',
      ['bootstrap', A.bootstrap.join(','), String(A.bootstrapPort)],
      lab.inside('inet'),
    )
    await dhtNodes.event('ready')
  }, 60_000)

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.stop()))
    for (const agent of agents) agent.kill()
    agents = []
    dhtNodes?.kill()
    await lab?.destroy()
  })

  it('lets two hosts meet by a room code after both joined while the DHT nodes did not answer', async () => {
    const code = createRoomCode()
    const [alice, bob] = [
      agentIn('hostA', ['--room', code, '--on-input']),
      agentIn('hostB', ['--room', code, '--on-input']),
    ]
    const [aliceKey, bobKey] = (await Promise.all([alice.event('ready'), bob.event('ready')])).map(
      (event) => event.key as string,
    ) as [string, string]
    // The bootstrap nodes stall, as on a loaded machine or a lost network: both joins store nothing, neither
    // on the room's topic nor under the members' keys. Each must announce both again once they answer.
    const bootstrap = dhtNodes.child.pid as number
    process.kill(bootstrap, 'SIGSTOP')
    try {
      for (const agent of [alice, bob]) agent.child.stdin?.write('join\n')
      await Promise.all([alice.event('listening'), bob.event('listening')])
    } finally {
      process.kill(bootstrap, 'SIGCONT')
    }
    await Promise.all([linkTo(alice, bobKey), linkTo(bob, aliceKey)])
    await greeted(alice, bobKey)
    await greeted(bob, aliceKey)
  })
})

function namespacesNow(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '')
}

describe.skipIf(unavailable !== undefined)('the NAT lab itself', () => {
  it('removes its namespaces when its process is interrupted', async () => {
    const keeper = startScript('lab-keeper.mjs', [])
    const built = (await keeper.event('built')).namespaces as string[]
    expect(built).toHaveLength(7)
    expect(namespacesNow()).toEqual(expect.arrayContaining(built))
    keeper.child.kill('SIGINT')
    await keeper.exited
    expect(namespacesNow().filter((name) => built.includes(name))).toEqual([])
  })

  it('sweeps the namespaces a killed run left behind, and leaves a live run’s alone', async () => {
    const killed = startScript('lab-keeper.mjs', [])
    const live = startScript('lab-keeper.mjs', [])
    const [left, running] = await Promise.all(
      [killed, live].map(async (keeper) => (await keeper.event('built')).namespaces as string[]),
    )
    killed.kill()
    await killed.exited
    expect(namespacesNow()).toEqual(expect.arrayContaining(left!))
    const swept = await sweepStaleLabs()
    expect(swept).toEqual(expect.arrayContaining(left!))
    expect(swept.filter((name) => running!.includes(name))).toEqual([])
    expect(namespacesNow().filter((name) => left!.includes(name))).toEqual([])
    expect(namespacesNow()).toEqual(expect.arrayContaining(running!))
    expect(await live.stop()).toBe(0)
    expect(namespacesNow().filter((name) => running!.includes(name))).toEqual([])
  })
})
