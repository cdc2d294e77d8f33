import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeEvent, PeerInfo } from '@parley/core'
import { afterEach, describe, expect, it } from 'vitest'
import { BLOCKED_GRACE_MS, EventLog } from './event-log.js'
import { ExitCode, FatalError } from './exit-codes.js'

const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }
const carol: PeerInfo = { id: 'c'.repeat(64), name: 'carol' }
const blocked = (peer: PeerInfo): NodeEvent => ({ type: 'backpressure', peer, blocked: true })
const reading = (peer: PeerInfo): NodeEvent => ({ type: 'backpressure', peer, blocked: false })

/** An event log on a fake clock: `advance` runs the checks that fall due, as timers would. */
async function openLog(options: { limitBytes?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-event-log-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  let now = 1_000_000
  const timers = new Set<{ at: number; callback: () => void }>()
  const log = new EventLog(join(dir, 'parley.log'), {
    ...options,
    now: () => now,
    schedule: (callback, ms) => {
      const timer = { at: now + ms, callback }
      timers.add(timer)
      return () => timers.delete(timer)
    },
  })
  return {
    log,
    timers,
    advance(ms: number) {
      now += ms
      for (const timer of [...timers]) if (timer.at <= now && timers.delete(timer)) timer.callback()
    },
    async lines(): Promise<Record<string, unknown>[]> {
      await log.close()
      const text = await readFile(join(dir, 'parley.log'), 'utf8')
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
    },
  }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

describe('EventLog and the file it is given', () => {
  async function fileHolding(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'parley-event-log-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'given.log')
    await writeFile(file, text)
    return file
  }
  const listening: NodeEvent = { type: 'listening', address: '127.0.0.1:4001' }

  it("appends to the data dir's own log whatever it holds: only a file the user named is refused", async () => {
    const file = await fileHolding('not a log line\n')
    const log = new EventLog(file)
    log.record(listening)
    await log.close()
    expect(await readFile(file, 'utf8')).toMatch(/^not a log line\n\{"ts":/)
  })

  it('refuses a file that holds something other than its log, and leaves it as it was', async () => {
    const file = await fileHolding('root:x:0:0:root:/root:/bin/bash\n')
    let error: unknown
    try {
      new EventLog(file, { refuseForeign: true })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(FatalError)
    expect((error as FatalError).exitCode).toBe(ExitCode.USAGE)
    expect((error as FatalError).message).toBe(
      `the log ${file} already holds something other than parley's log (it starts "root:x:0:0:root:/root:/b…"): parley appends only to its own; give --log-file a new file, or an empty one`,
    )
    expect(await readFile(file, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n')
  })

  it('appends to its own log, one a crash cut short or left zeros in, and an empty file', async () => {
    const earlier = '{"ts":"2026-12-01T00:00:00.000Z","level":"info","event":"listening","address":"x"}\n'
    for (const start of [earlier, '', '{"t', '\0\0\0\0']) {
      const file = await fileHolding(start)
      const log = new EventLog(file, { refuseForeign: true })
      log.record(listening)
      await log.close()
      const text = await readFile(file, 'utf8')
      expect(text.startsWith(start)).toBe(true)
      expect(text.slice(start.length)).toMatch(/^\{"ts":".*"event":"listening".*\n$/)
    }
  })
})

describe('EventLog and links that stop reading', () => {
  it('logs nothing for a link blocked for a moment, however often: a flood must not fill the log', async () => {
    const h = await openLog()
    for (let i = 0; i < 1_000; i++) {
      h.log.record(blocked(bob))
      h.advance(BLOCKED_GRACE_MS - 1)
      h.log.record(reading(bob))
    }
    h.advance(10 * BLOCKED_GRACE_MS)
    expect(h.timers.size).toBe(0)
    expect(h.log.blockedLinks).toBe(0)
    expect(await h.lines()).toEqual([])
  })

  it('logs a link blocked past the grace once, then when it reads again, with how long it was blocked', async () => {
    const h = await openLog()
    h.log.record(blocked(bob))
    h.log.record(blocked(bob))
    h.advance(BLOCKED_GRACE_MS)
    h.log.record(blocked(bob))
    h.advance(4_000)
    h.log.record(reading(bob))
    h.log.record(reading(bob))
    const lines = await h.lines()
    expect(lines.map(({ ts: _, ...rest }) => rest)).toEqual([
      { level: 'info', event: 'peer-not-reading', peerId: bob.id, blockedMs: BLOCKED_GRACE_MS },
      { level: 'info', event: 'peer-reading', peerId: bob.id, blockedMs: BLOCKED_GRACE_MS + 4_000 },
    ])
    expect(lines[0]?.ts).toBe(new Date(1_000_000 + BLOCKED_GRACE_MS).toISOString())
  })

  it('keeps each link apart, and forgets a blocked link that closes before the grace ends', async () => {
    const h = await openLog()
    h.log.record(blocked(bob))
    h.log.record(blocked(carol))
    expect(h.log.blockedLinks).toBe(2)
    h.log.record({ type: 'disconnected', peer: carol, reason: 'carol left' })
    expect(h.log.blockedLinks).toBe(1)
    h.advance(BLOCKED_GRACE_MS)
    expect(h.timers.size).toBe(0)
    expect(h.log.blockedLinks).toBe(1)
    const lines = await h.lines()
    expect(lines.map((line) => [line.event, line.peerId])).toEqual([
      ['disconnected', carol.id],
      ['peer-not-reading', bob.id],
    ])
  })

  it('closes a logged stall with the link: no peer-reading after it left, and a new link starts afresh', async () => {
    const h = await openLog()
    h.log.record(blocked(bob))
    h.advance(BLOCKED_GRACE_MS + 500)
    h.log.record({ type: 'disconnected', peer: bob, reason: 'bob is not answering' })
    h.log.record(reading(bob))
    expect(h.log.blockedLinks).toBe(0)
    h.log.record({ type: 'connected', peer: bob, address: '127.0.0.1:4002', direction: 'outbound' })
    h.log.record(blocked(bob))
    h.advance(BLOCKED_GRACE_MS - 1)
    h.log.record(reading(bob))
    const lines = await h.lines()
    expect(lines.map((line) => line.event)).toEqual(['peer-not-reading', 'disconnected', 'connected'])
  })

  it('takes its grace from the options, and says at least the grace even if the wall clock stepped back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-event-log-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const clock = [5_000]
    const due: (() => void)[] = []
    const log = new EventLog(join(dir, 'parley.log'), {
      graceMs: 250,
      now: () => clock[0]!,
      schedule: (callback, ms) => {
        expect(ms).toBe(250)
        due.push(callback)
        return () => {}
      },
    })
    log.record(blocked(bob))
    clock[0] = 4_900
    due.shift()?.()
    log.record(reading(bob))
    await log.close()
    log.record(blocked(carol))
    expect(due).toEqual([])
    const lines = (await readFile(join(dir, 'parley.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.map(({ event, blockedMs }) => [event, blockedMs])).toEqual([
      ['peer-not-reading', 250],
      ['peer-reading', 250],
    ])
  })

  it('still logs the other events as they come', async () => {
    const h = await openLog()
    h.log.record({ type: 'listening', address: '127.0.0.1:4001' })
    h.log.record({ type: 'message', id: 'x', seq: 1, ts: 0, from: bob, body: 'private' })
    h.log.record({ type: 'link-error', address: '127.0.0.1:5', code: 'BAD_HELLO', message: 'no hello' })
    const lines = await h.lines()
    expect(lines.map((line) => line.event)).toEqual(['listening', 'refused'])
    expect(JSON.stringify(lines)).not.toContain('private')
  })

  it('logs when a relayed member last wrote, and when its presence said it is in the room now', async () => {
    const h = await openLog()
    h.log.record({ type: 'member', peer: bob, via: 'relay', lastSent: 1_000 })
    h.log.record({ type: 'member', peer: bob, via: 'relay', hereAt: 2_000 })
    h.log.record({ type: 'member', peer: carol, via: 'direct' })
    const lines = await h.lines()
    expect(lines.map(({ via, lastSent, hereAt }) => ({ via, lastSent, hereAt }))).toEqual([
      { via: 'relay', lastSent: 1_000, hereAt: undefined },
      { via: 'relay', lastSent: undefined, hereAt: 2_000 },
      { via: 'direct', lastSent: undefined, hereAt: undefined },
    ])
  })

  it('logs the reason a relayed member left with, when its leave carried one', async () => {
    const h = await openLog()
    h.log.record({ type: 'member-left', peer: carol, at: 3_000, reason: 'back tomorrow' })
    h.log.record({ type: 'member-left', peer: carol, at: 4_000 })
    const lines = await h.lines()
    expect(lines.map(({ event, at, reason }) => ({ event, at, reason }))).toEqual([
      { event: 'member-left', at: 3_000, reason: 'back tomorrow' },
      { event: 'member-left', at: 4_000, reason: undefined },
    ])
  })

  it('still takes the size limit as a number, as earlier releases did', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-event-log-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    // Each line is 97 bytes: the third one moves the first two to parley.log.1.
    const log = new EventLog(join(dir, 'parley.log'), 250)
    for (let i = 0; i < 3; i++) log.record({ type: 'listening', address: `127.0.0.1:${4000 + i}` })
    await log.close()
    const addresses = async (file: string) =>
      (await readFile(join(dir, file), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { address: string }).address)
    expect(await addresses('parley.log.1')).toEqual(['127.0.0.1:4000', '127.0.0.1:4001'])
    expect(await addresses('parley.log')).toEqual(['127.0.0.1:4002'])
  })
})

describe('the size limit of the log', () => {
  it('counts bytes, as it says: lines of multibyte text move the log aside before it passes the limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-event-log-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const limitBytes = 800
    const log = new EventLog(join(dir, 'parley.log'), { limitBytes })
    // Each line holds a reason of 100 three-byte characters: about 450 bytes, some 250 characters, so
    // two lines fit 800 characters but not 800 bytes.
    for (let i = 0; i < 3; i++)
      log.record({ type: 'member-left', peer: carol, at: i, reason: '€'.repeat(100) })
    await log.close()
    for (const file of ['parley.log', 'parley.log.1'])
      expect((await readFile(join(dir, file))).length).toBeLessThanOrEqual(limitBytes)
  })
})

describe('a log that cannot be written', () => {
  it('says so once, in one line, and records nothing without failing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-event-log-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const problems: string[] = []
    const log = new EventLog(dir, { onProblem: (message) => problems.push(message) })
    log.record(blocked(bob))
    log.record({ type: 'connected', peer: carol, address: '127.0.0.1:4001', direction: 'inbound' })
    await log.close()
    expect(problems).toEqual([`cannot write the log ${dir} (it is a directory); parley runs without it`])
  })

  it('names the system error when the path cannot hold a file, and is quiet without onProblem', async () => {
    const problems: string[] = []
    const missing = join(tmpdir(), 'parley-no-such-dir-', 'x', 'parley.log')
    new EventLog(missing, { onProblem: (message) => problems.push(message) })
    expect(problems).toEqual([`cannot write the log ${missing} (ENOENT); parley runs without it`])
    expect(() => new EventLog(missing).record(blocked(bob))).not.toThrow()
  })
})
