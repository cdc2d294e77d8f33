import { execFileSync } from 'node:child_process'
import {
  buildLab,
  LAB_ADDRESSES,
  type Lab,
  type LabHost,
  labUnavailableReason,
  sweepStaleLabs,
} from '@parley/netlab'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createRoomCode } from '../src/room-code.js'
import { type Agent, type AgentEvent, assertBuilt, startAgent, startScript } from './agent/run.js'

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
