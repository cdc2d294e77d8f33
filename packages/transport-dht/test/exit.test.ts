import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { createRoomCode } from '../src/room-code.js'
import { createLocalTestnet, type LocalTestnet } from '../src/servers.js'
import { type Agent, assertBuilt, startAgent } from './agent/run.js'

let testnet: LocalTestnet
const agents: Agent[] = []

beforeAll(async () => {
  assertBuilt()
  testnet = await createLocalTestnet(3)
})

function explainFailure(): void {
  onTestFailed(() => {
    for (const agent of agents) console.error(JSON.stringify(agent.events), agent.stderr)
  })
}

afterAll(async () => {
  for (const agent of agents) agent.kill()
  await testnet?.destroy()
})

describe('a node process on the DHT', () => {
  it('exits by itself after close, with links, a room and an announce behind it: no handle is left', async () => {
    explainFailure()
    const bootstrap = testnet.bootstrap.map((node) => `${node.host}:${node.port}`).join(',')
    const listener = startAgent([
      '--bootstrap',
      bootstrap,
      '--host',
      '127.0.0.1',
      '--listen',
      '--room',
      createRoomCode(),
    ])
    agents.push(listener)
    await listener.event('listening')
    const key = (await listener.event('ready')).key as string
    const dialer = startAgent(['--bootstrap', bootstrap, '--dial', key])
    agents.push(dialer)
    const greeting = await listener.event('data')
    expect(greeting.text).toMatch(/^hello from [0-9a-f]{64}$/)
    expect((await dialer.event('data')).text).toBe(`hello from ${key}`)

    expect(await dialer.stop()).toBe(0)
    expect(dialer.events.at(-1)?.event).toBe('closed')
    await listener.event('link-closed')
    expect(await listener.stop()).toBe(0)
    expect(listener.events.at(-1)?.event).toBe('closed')
  })

  it('refuses to start without --bootstrap while the guard is on, and says so in one line', async () => {
    const lonely = startAgent(['--listen'])
    agents.push(lonely)
    expect(await lonely.exited).toBe(2)
    expect(lonely.events).toEqual([
      expect.objectContaining({ event: 'error', code: 'PUBLIC_BOOTSTRAP_REFUSED' }),
    ])
  })
})
