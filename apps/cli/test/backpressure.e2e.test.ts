/**
 * End-to-end backpressure: a receiver that stops reading (SIGSTOP) must not make the sender grow without
 * bound. The sender's outbox fills to its high-water mark, then the CLI stops reading stdin, so our writes
 * to its stdin stop draining; its memory (VmRSS from /proc) stays flat. After SIGCONT every line arrives
 * exactly once, in order.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BLOCKED_GRACE_MS } from '@parley/launcher'
import { assertBuilt, listeningPort, type Proc, spawnParley } from '@parley/testkit'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const running: Proc[] = []
const cleanups: (() => void)[] = []
const start = (args: string[]) => {
  const proc = spawnParley(args)
  running.push(proc)
  return proc
}

beforeAll(() => assertBuilt())
afterEach(async () => {
  for (const proc of running.splice(0)) {
    if (proc.child.pid !== undefined && proc.child.exitCode === null) process.kill(proc.child.pid, 'SIGCONT')
    proc.kill('SIGKILL')
    await proc.exited
  }
  for (const cleanup of cleanups.splice(0)) cleanup()
})

/**
 * 2,000-character lines of a 3-byte character: the CLI pauses stdin at 8,000,000 characters waiting in the
 * outbox (`OUTBOX_LIMITS` in src/outbox-watch.ts), 4,000 of these lines, long before its 10,000-message
 * mark; on the wire they are 24 MB, more than the loopback socket buffers hold.
 */
const LINE_CHARS = 2_000
const HIGH_WATER = 8_000_000 / LINE_CHARS
/** Never write more than this (the mark plus pipe and stream buffers, with room to spare). */
const MAX_LINES = HIGH_WATER + 1_000
/** How long a full stdin pipe must stay full past the mark to count as paused. */
const STALL_MS = 3_000
/** A ceiling that only catches a hang: a CLI that stopped reading for good. */
const HANG_MS = 60_000
/** Memory the sender may hold with a full outbox, on top of what it used while idle. */
const RSS_BOUND_MB = 200

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function memoryMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024
  return { rss: field('VmRSS'), hwm: field('VmHWM') }
}

const lineOf = (i: number) => {
  const head = `line ${i} `
  return head + '漢'.repeat(LINE_CHARS - head.length)
}

/** Writes one line; false when stdin did not drain within `stallMs` after a full write. */
async function writeLine(proc: Proc, i: number, stallMs: number): Promise<boolean> {
  if (proc.child.stdin.write(`${lineOf(i)}\n`)) return true
  return Promise.race([
    new Promise<boolean>((resolve) => proc.child.stdin.once('drain', () => resolve(true))),
    sleep(stallMs).then(() => false),
  ])
}

describe('backpressure from a peer that stops reading', () => {
  it('stops reading stdin with a full outbox, keeps the sender small, and delivers every line once after the peer resumes', async () => {
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--rate', '0'])
    const port = await listeningPort(receiver)
    const logDir = mkdtempSync(join(tmpdir(), 'parley-backpressure-log-'))
    cleanups.push(() => rmSync(logDir, { recursive: true, force: true }))
    const logFile = join(logDir, 'parley.log')
    const sender = start([
      '--log-file',
      logFile,
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'alice',
      '--wait',
      '90',
    ])
    await sender.waitFor('stderr', /connected to bob/)
    await receiver.waitFor('stderr', /connected to alice/)
    // The sender writes nothing until the receiver's first ack says where to resume: make sure it came
    // before the receiver is stopped, or nothing at all would go out.
    sender.send('warm up')
    await receiver.waitFor('stdout', /^<alice> warm up$/)
    // If the sender dies mid-test, writing to its stdin fails; the assertions say why, not an EPIPE.
    sender.child.stdin.on('error', () => undefined)
    const senderPid = sender.child.pid!
    const idle = memoryMb(senderPid)

    process.kill(receiver.child.pid!, 'SIGSTOP')
    let written = 0
    const samples: number[] = []
    const sampler = setInterval(() => samples.push(memoryMb(senderPid).rss), 100)
    try {
      // Up to its high-water mark the CLI must read every line, however slowly a busy machine lets it:
      // the ceiling only catches a CLI that stopped too early. Past the mark it pauses stdin, so our
      // writes stop draining: a pipe that stays full for STALL_MS is taken as paused. A CLI that is
      // merely slow drains again later and the loop goes on, up to the bound that fails the test.
      while (written < MAX_LINES) {
        const early = written < HIGH_WATER
        const drained = await writeLine(sender, written, early ? HANG_MS : STALL_MS)
        written++
        if (!drained) {
          expect(early, `the CLI stopped reading stdin after ${written} lines, before its mark`).toBe(false)
          break
        }
      }
      // The CLI read at least up to its high-water mark, and not much past it (pipe and stream buffers).
      expect(written).toBeGreaterThanOrEqual(HIGH_WATER)
      expect(written, 'the CLI kept reading stdin past its high-water mark').toBeLessThan(MAX_LINES)
      expect(Math.max(...samples, memoryMb(senderPid).hwm) - idle.rss).toBeLessThan(RSS_BOUND_MB)
      // The sender writes only what its journal made durable, so on a busy disk the link blocks later.
      await sender.waitFor('stderr', /bob is not reading/, 60_000)
    } finally {
      clearInterval(sampler)
      process.kill(receiver.child.pid!, 'SIGCONT')
    }

    // Once the receiver reads again, the outbox drains, stdin is read again, and the rest goes through.
    const total = written + 2_000
    while (written < total) {
      expect(await writeLine(sender, written, 60_000)).toBe(true)
      written++
    }
    sender.end()
    expect(await sender.exited).toBe(0)
    expect(sender.stderr.join('\n')).toMatch(
      new RegExp(`all ${(total + 1).toLocaleString('en-US')} message\\(s\\) delivered`),
    )
    await receiver.waitFor('stdout', new RegExp(`^<alice> line ${total - 1} `), 60_000)
    expect(receiver.stdout).toHaveLength(total + 1)
    expect(receiver.stdout).toEqual([
      '<alice> warm up',
      ...Array.from({ length: total }, (_, i) => `<alice> ${lineOf(i)}`),
    ])
    // The log has the stall, closed by `peer-reading` (or by `disconnected`, if a busy machine kept the
    // link silent past --dead-after), each with how long the link had been blocked: at least the grace.
    // The moments the link filled while lines flowed are not logged.
    const entries = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; blockedMs?: number })
    const stalls = entries.filter((entry) => entry.event === 'peer-not-reading')
    expect(stalls.length).toBeGreaterThanOrEqual(1)
    let open = false
    for (const entry of entries) {
      if (entry.event === 'peer-not-reading' || entry.event === 'peer-reading') {
        expect(entry.blockedMs).toBeGreaterThanOrEqual(BLOCKED_GRACE_MS)
        expect(open, `${entry.event} after ${open ? 'a stall not closed' : 'no stall'}`).toBe(
          entry.event === 'peer-reading',
        )
        open = entry.event === 'peer-not-reading'
      } else if (entry.event === 'disconnected' || entry.event === 'connected') open = false
    }
    // The last stall ended: the receiver read everything before the sender could exit.
    expect(open).toBe(false)
  }, 300_000)
})
