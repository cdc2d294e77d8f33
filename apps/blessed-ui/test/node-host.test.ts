/**
 * The node's side of parley-tui's thread split (`hostNode`), driven over a MessageChannel the way the
 * screen's thread drives it: real nodes on loopback, each with its own data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import type { NodeEvent } from '@parley/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { hostNode, NODE_THREAD_NICE, niceOf } from '../src/node-thread/node-host.js'
import type { FromNode, ToNode } from '../src/node-thread/protocol.js'
import { until } from './harness.js'

/** Set: writes to the display marks of data dirs under `dir` fail with EIO, as a failing disk's do. */
const failingMarks = vi.hoisted(() => ({
  dir: undefined as string | undefined,
  fds: new Map<number, string>(),
}))
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  return {
    ...real,
    openSync: (...args: Parameters<typeof real.openSync>) => {
      const fd = real.openSync(...args)
      if (String(args[0]).endsWith('/shown')) failingMarks.fds.set(fd, String(args[0]))
      return fd
    },
    writeSync: (fd: number, ...rest: unknown[]) => {
      const dir = failingMarks.dir
      if (dir && failingMarks.fds.get(fd)?.startsWith(`${dir}/`))
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })
      return (real.writeSync as (...args: unknown[]) => number)(fd, ...rest)
    },
  }
})

interface Hosted {
  readonly dir: string
  readonly received: FromNode[]
  readonly exits: number[]
  ask(message: ToNode): void
  events(): NodeEvent[]
  close(): void
}

const dirs: string[] = []
const hosted: Hosted[] = []

afterEach(async () => {
  failingMarks.dir = undefined
  for (const h of hosted.splice(0)) {
    if (h.received.some((m) => m.type === 'started') && h.exits.length === 0) {
      h.ask({ type: 'close', reason: 'quit' })
      await until('the node to close', () => h.exits.length > 0)
    }
    h.close()
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function host(name: string, extra: string[] = [], listen = '127.0.0.1:0', dataDir?: string): Hosted {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'parley-node-host-'))
  if (dataDir === undefined) dirs.push(dir)
  const { port1, port2 } = new MessageChannel()
  const received: FromNode[] = []
  const exits: number[] = []
  port1.on('message', (message: FromNode) => received.push(message))
  // In-process, the thread being niced would be the test's own.
  const env = { ...process.env, PARLEY_TUI_NODE_NICE: '0' }
  hostNode(port2, (code) => exits.push(code))
  port1.postMessage({
    type: 'start',
    // The few events here never come near the limit: this thread (which hosts the node) never waits.
    flow: new SharedArrayBuffer(8),
    data: { argv: ['--listen', listen, '--name', name, '--data-dir', dir, ...extra], env },
  } satisfies ToNode)
  const h: Hosted = {
    dir,
    received,
    exits,
    ask: (message) => port1.postMessage(message),
    events: () => received.flatMap((m) => (m.type === 'events' ? m.events.map(([event]) => event) : [])),
    close: () => {
      port1.close()
      port2.close()
    },
  }
  hosted.push(h)
  return h
}

const started = (h: Hosted) => until('the node to start', () => h.received.find((m) => m.type === 'started'))
const listenAddress = async (h: Hosted) => {
  const event = await until('listening', () => h.events().find((e) => e.type === 'listening'))
  return event.type === 'listening' ? event.address : ''
}
const answer = (h: Hosted, ask: number) =>
  until(`the answer to request ${ask}`, () =>
    h.received.find((m): m is Extract<FromNode, { type: 'answer' }> => m.type === 'answer' && m.ask === ask),
  )

describe('the node thread of parley-tui', () => {
  it('starts the node the argv describes and hands its events over in order, with the state after them', async () => {
    const alice = host('alice')
    const aliceStart = await started(alice)
    expect(aliceStart).toMatchObject({ type: 'started', info: { name: 'alice', secure: true } })
    const address = await listenAddress(alice)
    // The start came first: events wait until the screen knows the node.
    expect(alice.received.findIndex((m) => m.type === 'started')).toBeLessThan(
      alice.received.findIndex((m) => m.type === 'events'),
    )

    const bob = host('bob', ['--peer', address])
    await started(bob)
    await until('alice to see bob connect', () =>
      alice.events().find((e) => e.type === 'connected' && e.peer.name === 'bob'),
    )
    // A connection comes with the member list as it is after it.
    const withMembers = alice.received.find(
      (m) => m.type === 'events' && m.state.members?.some((member) => member.peer.name === 'bob'),
    )
    expect(withMembers).toBeDefined()

    bob.ask({ type: 'send', bodies: ['hello alice', 'and again'], ask: 1 })
    const sent = await answer(bob, 1)
    expect(sent.line).toBeUndefined()
    // The state that counts the two new messages arrives before the answer.
    const before = bob.received.slice(0, bob.received.indexOf(sent)).filter((m) => m.type === 'events')
    expect(before.at(-1)?.type === 'events' && before.at(-1)?.state.pending).toBeGreaterThan(0)
    const bodies = await until('both messages at alice', () => {
      const got = alice.events().flatMap((e) => (e.type === 'message' ? [e.body] : []))
      return got.length === 2 ? got : undefined
    })
    expect(bodies).toEqual(['hello alice', 'and again'])
    await until('bob to see both acknowledged', () =>
      bob.received.some(
        (m) => m.type === 'events' && m.state.pending === 0 && m.events.some(([e]) => e.type === 'delivered'),
      ),
    )
  })

  it('answers requests for the member list and for a dial, and closes the node when asked', async () => {
    const alice = host('alice')
    await started(alice)
    const address = await listenAddress(alice)
    const bob = host('bob', ['--peer', address])
    await started(bob)
    await until('bob connected', () => bob.events().find((e) => e.type === 'connected'))

    bob.ask({ type: 'members', ask: 7 })
    const members = await answer(bob, 7)
    const state = bob.received.slice(0, bob.received.indexOf(members)).findLast((m) => m.type === 'events')
    expect(state?.type === 'events' && state.state.members?.map((m) => m.peer.name)).toContain('alice')

    bob.ask({ type: 'connect', address, dht: false, plain: false, ask: 8 })
    expect((await answer(bob, 8)).line?.text).toMatch(/^already connected to alice /)

    bob.ask({ type: 'close', reason: 'quit' })
    await until('bob to end its thread', () => bob.exits.length > 0)
    expect(bob.exits).toEqual([0])
    await until('alice to see bob leave', () => alice.events().find((e) => e.type === 'disconnected'))
  })

  it('ends a line its last run left open before it sends again, so its next line does not run on in it', async () => {
    const bob = host('bob')
    await started(bob)
    const address = await listenAddress(bob)
    const alice = host('alice', ['--peer', address])
    await started(alice)
    await until('alice connected', () => alice.events().find((e) => e.type === 'connected'))
    // The front of a line whose rest never comes: the run ends with it open.
    alice.ask({ type: 'send', bodies: ['the front'], goOn: [true], ask: 1 })
    await answer(alice, 1)
    await until('the front at bob', () => bob.events().find((e) => e.type === 'message'))
    alice.ask({ type: 'close', reason: 'quit' })
    await until('alice to end its thread', () => alice.exits.length > 0)
    const again = host('alice', ['--peer', address], '127.0.0.1:0', alice.dir)
    await started(again)
    again.ask({ type: 'send', bodies: ['next'], ask: 2 })
    await answer(again, 2)
    const parts = await until('the next line at bob', () => {
      const got = bob.events().flatMap((e) => (e.type === 'message' ? [[e.body, e.more === true]] : []))
      return got.some(([body]) => body === 'next') ? got : undefined
    })
    expect(parts).toEqual([
      ['the front', true],
      ['', false],
      ['next', false],
    ])
  })

  it('says with --plain that a line sent while nobody is connected is held in memory only', async () => {
    const alice = host('alice', ['--plain'])
    await started(alice)
    alice.ask({ type: 'send', bodies: ['only in memory'], ask: 1 })
    expect((await answer(alice, 1)).line?.text).toBe(
      'nobody is connected: this message is held in memory only (--plain keeps no outbox) and goes out when a peer connects; it is lost if parley exits first (said once; /peers lists the room)',
    )
  })

  it('says, with exit code 5, that the data dir failed under the running node, once the node has stopped', async () => {
    const alice = host('alice')
    await started(alice)
    await listenAddress(alice)
    failingMarks.dir = alice.dir
    alice.ask({ type: 'mark-shown', shown: new Map([['b'.repeat(64), 1]]) })
    const failed = await until('the failure', () => alice.received.find((m) => m.type === 'failed'))
    expect(failed).toMatchObject({ type: 'failed', exitCode: 5 })
    expect(failed.type === 'failed' && failed.message).toBe(
      `the disk holding the data dir ${alice.dir} failed a write (EIO): nothing parley acknowledged is lost (peers send again what it could not save); check that disk, then run parley again`,
    )
  })

  it('says why a node cannot start, with the exit code the launcher gives it', async () => {
    const alice = host('alice')
    await started(alice)
    const address = await listenAddress(alice)
    const second = host('second', [], address)
    const failed = await until('the failure', () => second.received.find((m) => m.type === 'failed'))
    expect(failed).toMatchObject({ type: 'failed', exitCode: 3 })
    expect(failed.type === 'failed' && failed.message).toMatch(/^cannot listen on 127\.0\.0\.1:\d+: /)
    expect(second.received.some((m) => m.type === 'started')).toBe(false)
  })

  it('takes its nice value from PARLEY_TUI_NODE_NICE when that is 0-19', () => {
    expect(niceOf({})).toBe(NODE_THREAD_NICE)
    expect(niceOf({ PARLEY_TUI_NODE_NICE: '0' })).toBe(0)
    expect(niceOf({ PARLEY_TUI_NODE_NICE: '19' })).toBe(19)
    for (const bad of ['', '20', '-1', '2.5', 'low'])
      expect(niceOf({ PARLEY_TUI_NODE_NICE: bad })).toBe(NODE_THREAD_NICE)
  })
})
