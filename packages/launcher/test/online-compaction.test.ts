/** Compaction while the node runs, between two real nodes on loopback with real data dirs. */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type JournalRecord, journalOrigin, type NodeEvent, restore } from '@parley/core'
import { AppendLog } from '@parley/store'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseFlags } from '../src/flags.js'
import { JOURNAL_FILE, type StartedNode, startNode } from '../src/node-setup.js'

const WINDOW = 5
const HISTORY = 20
const COMPACT_BYTES = 64 * 1024
/** Messages bob sends before waiting for alice to have them all. */
const CHUNK = 100
/** Alice's quota per member (`--disk-quota 1`). */
const QUOTA_BYTES = 1024 * 1024
const dirs: string[] = []
const nodes: StartedNode[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(nodes.splice(0).map((n) => n.node.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function start(name: string, extra: string[], onEvent: (event: NodeEvent) => void, existing?: string) {
  const dir = existing ?? (await mkdtemp(join(tmpdir(), `parley-online-${name}-`)))
  if (!existing) dirs.push(dir)
  const flags = parseFlags(
    ['--data-dir', dir, '--listen', '127.0.0.1:0', '--name', name, '--window', String(WINDOW), ...extra],
    {},
  )
  const started = await startNode(
    flags,
    onEvent,
    { historyLimit: HISTORY },
    {
      PARLEY_COMPACT_BYTES: String(COMPACT_BYTES),
    },
  )
  nodes.push(started)
  return { started, dir }
}

describe('journal compaction while the node runs', () => {
  it('keeps the journal and a member’s quota bounded by what is kept, and restores every kept message', async () => {
    // Both journals start empty: every compaction replays the appends as they land, none reads the file back.
    const readBack = vi.spyOn(AppendLog.prototype, 'readAll')
    const aliceEvents: NodeEvent[] = []
    // A quota of 1 MiB per member: bob sends more than that in all, but far less is ever kept of him.
    const alice = await start('alice', ['--rate', '0', '--disk-quota', '1'], (e) => aliceEvents.push(e))
    const bob = await start('bob', ['--peer', alice.started.node.address], () => undefined)
    const count = 3_000
    const body = (i: number) => `line ${i} `.padEnd(400, '.')
    let received = 0
    let waiting: { upTo: number; resolve: () => void; reject: (e: Error) => void } | undefined
    alice.started.node.on((e) => {
      if (e.type === 'link-error') waiting?.reject(new Error(`alice refused bob: ${e.code} ${e.message}`))
      if (e.type !== 'message') return
      received++
      if (waiting && received >= waiting.upTo) waiting.resolve()
    })
    const receivedUpTo = (upTo: number) =>
      new Promise<void>((resolve, reject) => {
        if (received >= upTo) resolve()
        else waiting = { upTo, resolve, reject }
      })
    // Steady traffic: bob sends a chunk, alice takes it in, and so on. A flood sent all at once could
    // outrun a rewrite's fsyncs with more than the quota; steady traffic never should.
    for (let i = 1; i <= count; i++) {
      void bob.started.node.send(body(i))
      if (i % CHUNK === 0) await receivedUpTo(i)
    }
    expect(aliceEvents.filter((e) => e.type === 'link-error' || e.type === 'journal-error')).toEqual([])
    const compactions = aliceEvents.filter((e) => e.type === 'journal-compacted')
    expect(compactions.length).toBeGreaterThan(2)
    for (const c of compactions)
      if (c.type === 'journal-compacted') expect(c.keptRecords).toBeLessThan(c.records / 2)
    expect(readBack).not.toHaveBeenCalled()
    await bob.started.node.whenDelivered(60_000)
    await alice.started.node.close()
    await bob.started.node.close()

    const path = join(alice.dir, JOURNAL_FILE)
    const log = await AppendLog.open(path, { accountOf: journalOrigin })
    await log.close()
    const bobId = bob.started.node.id
    // Everything bob ever sent took more than his quota; what is kept of him is a small part of it.
    expect(count * body(1).length).toBeGreaterThan(QUOTA_BYTES)
    // Past the last compaction the journal holds what came after it: at most a few chunks, whatever the
    // machine's speed, far below the quota and the megabytes bob sent.
    expect(log.usage.bytesOf(bobId)).toBeLessThan(QUOTA_BYTES / 2)
    expect((await stat(path)).size).toBeLessThan(QUOTA_BYTES / 2)
    const self = { id: alice.started.node.id, name: 'alice' }
    const restored = restore(log.records as JournalRecord[], self, HISTORY, WINDOW)
    expect(restored.peers.get(bobId)?.received).toBe(count)
    expect(restored.history.map((h) => h.body)).toEqual(
      Array.from({ length: HISTORY }, (_, i) => body(count - HISTORY + 1 + i)),
    )
    expect(restored.peers.get(bobId)?.log.map((m) => m.seq)).toEqual([2996, 2997, 2998, 2999, 3000])
  }, 120_000)

  it('after a restart on a long journal, reads it back at most once, then replays what it appends', async () => {
    const alice = await start('alice', ['--rate', '0'], () => undefined)
    let received = 0
    let waiting: { upTo: number; resolve: () => void } | undefined
    alice.started.node.on((e) => {
      if (e.type !== 'message') return
      received++
      if (waiting && received >= waiting.upTo) waiting.resolve()
    })
    const receivedUpTo = (upTo: number) =>
      new Promise<void>((resolve) => {
        if (received >= upTo) resolve()
        else waiting = { upTo, resolve }
      })
    const body = (i: number) => `said ${i} `.padEnd(400, '-')
    const sendFrom = async (bob: StartedNode, from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        void bob.node.send(body(i))
        if (i % CHUNK === 0) await receivedUpTo(i)
      }
      await bob.node.whenDelivered(60_000)
    }
    const first = await start('bob', ['--peer', alice.started.node.address], () => undefined)
    await sendFrom(first.started, 1, 600)
    await first.started.node.close()
    await first.started.stopped
    nodes.splice(nodes.indexOf(first.started), 1)

    // The same data dir again: its journal holds what bob sent, so the replay cannot start empty.
    const readBack = vi.spyOn(AppendLog.prototype, 'readAll')
    const bobEvents: NodeEvent[] = []
    const bob = await start(
      'bob',
      ['--peer', alice.started.node.address],
      (e) => bobEvents.push(e),
      first.dir,
    )
    await sendFrom(bob.started, 601, 5_000)
    const compactions = bobEvents.filter((e) => e.type === 'journal-compacted')
    expect(compactions.length).toBeGreaterThan(2)
    const path = join(first.dir, JOURNAL_FILE)
    const readsOfBob = readBack.mock.contexts.filter((log) => (log as AppendLog).path === path)
    expect(readsOfBob.length).toBeLessThanOrEqual(1)
    await bob.started.node.close()

    const log = await AppendLog.open(path)
    await log.close()
    const restored = restore(
      log.records as JournalRecord[],
      { id: bob.started.node.id, name: 'bob' },
      HISTORY,
      WINDOW,
    )
    expect(restored.nextSeq).toBe(5_001)
    expect(restored.history.map((h) => h.body)).toEqual(
      Array.from({ length: HISTORY }, (_, i) => body(5_000 - HISTORY + 1 + i)),
    )
  }, 120_000)
})
