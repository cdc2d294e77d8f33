/**
 * Issue 5, one kill -9 placed exactly: after the write that shows a received line and before the write
 * that records it as shown (DATA_DIR/shown). strace holds back every write to that file for a while, so
 * the test can kill the receiver with the line out and its mark not. Writing and marking are two system
 * calls, so the contract there is "never lost, shown at most once more"; the random kills in
 * faults.e2e.test.ts reach this instant only now and then. Skipped where strace cannot trace (not
 * installed, or ptrace not permitted).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  assertBuilt,
  bodiesOf,
  freePort,
  jsonEvents,
  PARLEY_BIN,
  type Proc,
  spawnParley,
  straceWorks,
  tempDir,
  waitUntil,
} from '@parley/testkit'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const running: Proc[] = []
const traced: ChildProcess[] = []
const start = (args: string[]) => {
  const proc = spawnParley(args)
  proc.child.stdin.on('error', () => undefined)
  running.push(proc)
  return proc
}

beforeAll(() => assertBuilt())
afterEach(async () => {
  for (const child of traced.splice(0)) killGroup(child)
  for (const proc of running.splice(0)) {
    proc.kill('SIGKILL')
    await proc.exited
  }
})

/** strace's own process group holds strace and the traced parley: SIGKILL to it kills both at once. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/**
 * Kills the parley that strace runs, the way kill -9 would, and lets strace reap it: killing strace
 * too would leave an unreaped zombie whose pid still holds the data dir's lock.
 */
async function killTraced(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)
  for (const tracee of children.filter(Boolean)) process.kill(Number(tracee), 'SIGKILL')
  await exited
}

/** A parley whose `write` system calls to `path` wait `delayMs` before they write; its stdout lines. */
function slowWriter(args: string[], path: string, delayMs: number) {
  const strace = [
    '-f',
    '-qq',
    '-o',
    '/dev/null',
    '-P',
    path,
    '-e',
    `inject=write:delay_enter=${delayMs * 1000}`,
  ]
  const child = spawn('strace', [...strace, process.execPath, PARLEY_BIN, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PARLEY_DEBUG: '' },
  })
  traced.push(child)
  const lines: string[] = []
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    partial += chunk
    const parts = partial.split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
  })
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  return { child, lines, exited }
}

describe('a kill -9 between showing a line and recording it as shown', () => {
  it('shows the line at most once more after the restart, and nothing else twice', async (ctx) => {
    if (!straceWorks()) ctx.skip('strace cannot trace here (not installed, or ptrace not permitted)')
    const port = await freePort()
    const dataDir = tempDir()
    const receiverArgs = ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--name', 'bob', '--json']
    const first = slowWriter(receiverArgs, join(dataDir, 'shown'), 2_000)
    await waitUntil(
      () => first.lines.some((l) => l.includes('"listening"')),
      30_000,
      'the slow receiver to listen',
    )
    const sender = start([
      ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
      ...['--data-dir', tempDir(), '--name', 'alice', '--json'],
    ])
    sender.send('exactly once, please')
    // The line is out once its write completed; the write of its display mark is held back by strace.
    await waitUntil(() => first.lines.some((l) => l.includes('"message"')), 60_000, 'the line shown')
    await killTraced(first.child, first.exited)

    const second = start(receiverArgs)
    await waitUntil(() => jsonEvents(sender, 'delivered').length === 1, 60_000, 'the line acknowledged')
    sender.send('after the restart')
    await second.waitFor('stdout', /after the restart/)
    second.kill('SIGTERM')
    await second.exited
    const before = first.lines.filter((l) => l.includes('"message"')).map((l) => String(JSON.parse(l).body))
    expect(before).toEqual(['exactly once, please'])
    // The restarted receiver may show the unmarked line again, once, before anything new.
    expect([['after the restart'], ['exactly once, please', 'after the restart']]).toContainEqual(
      bodiesOf(second),
    )
    // The receiver shows the line before its ack reaches the sender: wait for that ack, then count.
    await waitUntil(() => jsonEvents(sender, 'delivered').length >= 2, 60_000, 'the second ack')
    expect(jsonEvents(sender, 'delivered')).toHaveLength(2)
  }, 120_000)
})
