/**
 * The data dir failing under a running node (a full disk, a failing one), between two real nodes on
 * loopback with real data dirs: the node stops once, with one line (exit DATA_DIR), and nothing it
 * acknowledged is lost or shown twice when it starts again.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeEvent } from '@parley/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

const faults = vi.hoisted(() => ({
  /** Set: every write to the journal in this data dir fails with this code. */
  journal: undefined as { dir: string; code: string } | undefined,
  /** Set: every write to the display marks in this data dir fails with this code. */
  marks: undefined as { dir: string; code: string } | undefined,
  /** Set: writing known_peers in this data dir fails with this code. */
  knownPeers: undefined as { dir: string; code: string } | undefined,
  marksFds: new Map<number, string>(),
}))
const refusal = (code: string) =>
  Object.assign(new Error(`${code}: the disk refused the write, write`), { code })

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    writeFile: async (...args: Parameters<typeof real.writeFile>) => {
      const fault = faults.knownPeers
      const path = String(args[0])
      if (fault && path.startsWith(`${fault.dir}/known_peers`)) throw refusal(fault.code)
      return real.writeFile(...args)
    },
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args)
      const path = String(args[0])
      if (!path.endsWith('/journal.log')) return handle
      const write = handle.write.bind(handle) as (...rest: unknown[]) => Promise<unknown>
      handle.write = (async (...rest: unknown[]) => {
        const fault = faults.journal
        if (fault && path.startsWith(`${fault.dir}/`)) throw refusal(fault.code)
        return write(...rest)
      }) as typeof handle.write
      return handle
    },
  }
})
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  return {
    ...real,
    openSync: (...args: Parameters<typeof real.openSync>) => {
      const fd = real.openSync(...args)
      if (String(args[0]).endsWith('/shown')) faults.marksFds.set(fd, String(args[0]))
      return fd
    },
    writeSync: (fd: number, ...rest: unknown[]) => {
      const fault = faults.marks
      if (fault && faults.marksFds.get(fd)?.startsWith(`${fault.dir}/`)) throw refusal(fault.code)
      return (real.writeSync as (...args: unknown[]) => number)(fd, ...rest)
    },
  }
})

const { ExitCode } = await import('../src/exit-codes.js')
const { parseFlags } = await import('../src/flags.js')
const { endProgram } = await import('../src/program.js')
const { startNode } = await import('../src/node-setup.js')
type StartedNode = Awaited<ReturnType<typeof startNode>>

const dirs: string[] = []
const nodes: StartedNode[] = []
beforeEach(() => {
  faults.journal = undefined
  faults.marks = undefined
  faults.knownPeers = undefined
  faults.marksFds.clear()
})
afterEach(async () => {
  faults.journal = undefined
  faults.marks = undefined
  faults.knownPeers = undefined
  await Promise.all(nodes.splice(0).map((n) => n.node.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function freshDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(process.env.PARLEY_TEST_TMP ?? tmpdir(), `parley-failing-${name}-`))
  dirs.push(dir)
  return dir
}

/**
 * A node as a frontend drives it: each message it is told of is shown (`shown`, as `from seq body`) and
 * marked at once, as a line frontend writes a line and then its mark.
 */
async function start(name: string, dir: string, extra: string[] = []) {
  const events: NodeEvent[] = []
  const shown: string[] = []
  let started: StartedNode | undefined
  const flags = parseFlags(['--data-dir', dir, '--listen', '127.0.0.1:0', '--name', name, ...extra], {})
  started = await startNode(flags, (event) => {
    events.push(event)
    if (event.type !== 'message' || started?.failure()) return
    shown.push(`${event.from.name} ${event.seq} ${event.body}`)
    started?.markShown(new Map([[event.from.id, event.seq]]))
  })
  nodes.push(started)
  const until = (done: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve()
      const off = started.node.on(() => {
        if (!done()) return
        off()
        resolve()
      })
      // A ceiling that only catches a hang.
      setTimeout(() => reject(new Error(`${name}: ${what} never happened`)), 60_000).unref()
    })
  return { started, events, shown, until }
}

const ENOSPC_LINE = (dir: string) =>
  `the disk holding the data dir ${dir} is full (ENOSPC): nothing parley acknowledged is lost (peers send again what it could not save); free space on that disk, then run parley again`

describe('a data dir that fails under a running node', () => {
  it('stops on a journal write the full disk refuses: the failure told once, one line, nothing acknowledged lost or shown twice', async () => {
    const aliceDir = await freshDir('alice')
    const alice = await start('alice', aliceDir)
    const address = alice.started.node.address
    const bob = await start('bob', await freshDir('bob'), ['--peer', address])
    for (let i = 1; i <= 5; i++) bob.started.node.send(`before ${i}`)
    await alice.until(() => alice.shown.length === 5, 'the first five shown')
    await bob.until(() => bob.started.node.pending === 0, 'the first five acknowledged')

    faults.journal = { dir: aliceDir, code: 'ENOSPC' }
    for (let i = 1; i <= 5; i++) bob.started.node.send(`after ${i}`)
    const failure = await alice.started.failed
    expect(failure.exitCode).toBe(ExitCode.DATA_DIR)
    expect(failure.message).toBe(ENOSPC_LINE(aliceDir))
    expect(alice.started.failure()).toBe(failure)
    // Said once, however many appends failed, and nothing after it reached the frontend.
    const told = alice.events.filter((e) => e.type === 'journal-error')
    expect(told).toEqual([
      { type: 'journal-error', message: `cannot append to ${join(aliceDir, 'journal.log')} (ENOSPC)` },
    ])
    expect(alice.events.at(-1)).toEqual(told[0])
    expect(alice.shown).toHaveLength(5)
    // Bob keeps what alice could not journal: she never acknowledged it.
    expect(bob.started.node.pending).toBe(5)

    // Space is freed and alice runs again on the same dir and address: bob's outbox empties, and each
    // message was shown once across both runs.
    faults.journal = undefined
    const again = await start('alice', aliceDir, ['--listen', address])
    await bob.until(() => bob.started.node.pending === 0, "bob's outbox delivered")
    await again.until(() => again.shown.length === 5, 'the last five shown')
    expect([...alice.shown, ...again.shown]).toEqual([
      ...[1, 2, 3, 4, 5].map((i) => `bob ${i} before ${i}`),
      ...[1, 2, 3, 4, 5].map((i) => `bob ${i + 5} after ${i}`),
    ])
    expect(again.events.filter((e) => e.type === 'journal-error')).toEqual([])
  })

  it('stops on a display mark the failing disk refuses, and shows nothing more', async () => {
    const aliceDir = await freshDir('alice')
    const alice = await start('alice', aliceDir)
    const bob = await start('bob', await freshDir('bob'), ['--peer', alice.started.node.address])
    bob.started.node.send('first')
    await alice.until(() => alice.shown.length === 1, 'the first shown')

    faults.marks = { dir: aliceDir, code: 'EIO' }
    bob.started.node.send('second')
    bob.started.node.send('third')
    const failure = await alice.started.failed
    expect(failure.exitCode).toBe(ExitCode.DATA_DIR)
    expect(failure.message).toBe(
      `the disk holding the data dir ${aliceDir} failed a write (EIO): nothing parley acknowledged is lost (peers send again what it could not save); check that disk, then run parley again`,
    )
    // The write whose mark failed is the only one shown unmarked: the next start shows it again, once.
    expect(alice.shown).toEqual(['bob 1 first', 'bob 2 second'])
    expect(alice.events.filter((e) => e.type === 'journal-error')).toEqual([])
    expect(alice.started.markShown(new Map())).toBe(false)
  })

  it('stops when the key of a peer it dials cannot be kept (known_peers on a disk over quota)', async () => {
    const alice = await start('alice', await freshDir('alice'))
    const bobDir = await freshDir('bob')
    faults.knownPeers = { dir: bobDir, code: 'EDQUOT' }
    const bob = await start('bob', bobDir, ['--peer', alice.started.node.address])
    const failure = await bob.started.failed
    expect(failure.exitCode).toBe(ExitCode.DATA_DIR)
    expect(failure.message).toBe(
      `your disk quota is used up on the disk holding the data dir ${bobDir} (EDQUOT): nothing parley acknowledged is lost (peers send again what it could not save); free space in your quota (or have it raised), then run parley again`,
    )
  })

  it('leaves ending the process to runProgram, which this test does not run', () => {
    expect(endProgram(new (class extends Error {})() as never)).toBe(false)
  })
})
