/**
 * Issue 5, the data dir through the real binary: a dir in use or unusable is refused with exit code 5
 * and one line; `--history N` replays the journal after a crash, and the reconnect that follows resends
 * only the gap.
 */
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import {
  bodiesOf,
  CLEAN_DELIVERY,
  crash,
  deliveryReport,
  feedLines,
  finished,
  freePort,
  jsonEvents,
  PARLEY_BIN,
  Restartable,
  startFaultProxy,
  tempDir,
  useBuiltParley,
  waitUntil,
} from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start, closeAfter } = useBuiltParley()

const DATA_DIR_EXIT = 5

/** Whether this machine lets us make a read-only bind mount in a private mount namespace. */
function readOnlyMountWorks(): boolean {
  const probe = spawnSync(
    'unshare',
    ['-m', 'sh', '-c', 'd=$(mktemp -d) && mount --bind -o ro "$d" "$d" && ! touch "$d/x" 2>/dev/null'],
    { timeout: 30_000 },
  )
  return probe.status === 0
}

describe('a data dir that cannot be used is refused with exit code 5 and one line', () => {
  it('refuses a second parley on a data dir in use, and takes the dir over once its holder was killed', async () => {
    const dir = tempDir()
    const first = start(['--listen', '127.0.0.1:0', '--data-dir', dir])
    await first.waitFor('stderr', /listening on/)
    const second = start(['--listen', '127.0.0.1:0', '--data-dir', dir])
    expect(await second.exited).toBe(DATA_DIR_EXIT)
    expect(second.stderr).toHaveLength(1)
    expect(second.stderr[0]).toMatch(/^parley: .*in use/)
    expect(second.stdout).toEqual([])
    await crash(first)
    const third = start(['--listen', '127.0.0.1:0', '--data-dir', dir])
    // A notice, shown with the other startup notes once the node is up.
    await third.waitFor('stderr', /listening on/)
    await third.waitFor('stderr', /took over a lock of pid \d+, which is not running/)
  })

  it('refuses a data dir whose parent is a regular file, and a data dir that is a regular file', async () => {
    const file = join(tempDir(), 'not-a-dir')
    writeFileSync(file, 'x')
    for (const dir of [join(file, 'parley'), file]) {
      const proc = start(['--listen', '127.0.0.1:0', '--data-dir', dir])
      expect(await proc.exited).toBe(DATA_DIR_EXIT)
      expect(proc.stderr).toHaveLength(1)
      expect(proc.stderr[0]).toMatch(/^parley: data dir .*(is a file|parent of it is a file)/)
    }
  })

  it('refuses a journal holding a damaged record in one line that names the record, not a stack trace', async () => {
    // A frame with a good checksum (so not a torn write) whose second record is not one parley writes.
    const dir = tempDir()
    const payload = Buffer.from(
      JSON.stringify([
        { t: 'self', epoch: 'e1' },
        { t: 'sent', msg: null },
      ]),
    )
    const header = Buffer.alloc(8)
    header.writeUInt32BE(payload.length, 0)
    header.writeUInt32BE(crc32(payload), 4)
    writeFileSync(join(dir, 'journal.log'), Buffer.concat([Buffer.from('parley-log 1\n'), header, payload]), {
      mode: 0o600,
    })
    const proc = start(['--listen', '127.0.0.1:0', '--data-dir', dir])
    expect(await proc.exited).toBe(DATA_DIR_EXIT)
    expect(proc.stderr).toEqual([
      `parley: cannot use ${join(dir, 'journal.log')}: record 1 of the journal is damaged: a "sent" record without a message; move it away to start without its history and outbox`,
    ])
  })

  it('refuses a data dir on a read-only mount (root ignores chmod, so a read-only bind mount)', async (ctx) => {
    if (!readOnlyMountWorks())
      ctx.skip('unshare -m with a read-only bind mount is not permitted on this machine')
    const existing = tempDir()
    const parent = tempDir()
    for (const [mount, dataDir] of [
      [existing, existing],
      [parent, join(parent, 'parley')],
    ] as const) {
      const script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
      const args = [PARLEY_BIN, '--listen', '127.0.0.1:0', '--data-dir', dataDir]
      const child = spawn('unshare', ['-m', 'sh', '-c', script, 'sh', mount, process.execPath, ...args], {
        env: { ...process.env, XDG_DATA_HOME: tempDir() },
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      expect({ dataDir, code }).toEqual({ dataDir, code: DATA_DIR_EXIT })
      expect(stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(stderr).toMatch(/^parley: .*(read-only|not writable|cannot be created)/)
    }
  })
})

describe('history and resume after a receiver crash', () => {
  it('--history N prints the last N messages of both directions, and the reconnect resends nothing already acknowledged', async () => {
    const bobPort = await freePort()
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: bobPort })
    closeAfter(proxy)
    const bobDir = tempDir()
    const bob = new Restartable(
      // No rate limit: 2,000 lines at the default 200/s would take 5 s.
      ['--listen', `127.0.0.1:${bobPort}`, '--data-dir', bobDir, '--name', 'bob', '--rate', '0'],
      start,
    )
    const firstBob = bob.start(['--json'])
    await firstBob.waitFor('stdout', /"type":"listening"/)
    const alice = start([
      ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${proxy.port}`],
      ...['--data-dir', tempDir(), '--name', 'alice', '--json'],
    ])
    const before = Array.from({ length: 2_000 }, (_, i) => `before-${i} ${'.'.repeat(i % 50)}`)
    await feedLines(alice, before, { batch: 100, pauseMs: 2 })
    await waitUntil(() => jsonEvents(alice, 'delivered').length === before.length, 60_000, 'all delivered')
    firstBob.send('reply-0')
    firstBob.send('reply-1')
    await waitUntil(() => jsonEvents(firstBob, 'delivered').length === 2, 60_000, 'both replies delivered')
    await waitUntil(() => bodiesOf(alice).length === 2, 60_000, 'alice to show both replies')

    await crash(firstBob)
    const bytesBefore = proxy.recorded.toTarget.reduce((n, chunk) => n + chunk.length, 0)
    const secondBob = bob.start(['--json', '--history', '4'])
    await waitUntil(() => jsonEvents(secondBob, 'history').length >= 4, 60_000, 'four history lines')
    const history = jsonEvents(secondBob, 'history').map((e) => [e.direction, e.body])
    expect(history).toEqual([
      ['in', before.at(-2)],
      ['in', before.at(-1)],
      ['out', 'reply-0'],
      ['out', 'reply-1'],
    ])
    await secondBob.waitFor('stdout', /"type":"connected"/)
    await waitUntil(() => jsonEvents(alice, 'connected').length === 2, 60_000, 'alice to reconnect')

    const after = Array.from({ length: 10 }, (_, i) => `after-${i}`)
    await feedLines(alice, after, { batch: 10, end: true })
    expect(await alice.exited).toBe(0)
    secondBob.kill('SIGTERM')
    await finished(secondBob)

    // The restarted bob shows only the new lines; nothing acknowledged before the crash comes back.
    expect(bodiesOf(secondBob)).toEqual(after)
    expect(deliveryReport([...before, ...after], bob.bodies())).toEqual(CLEAN_DELIVERY)
    expect(bodiesOf(alice)).toEqual(['reply-0', 'reply-1'])
    // Gap-only resume: the 2,000 acknowledged lines (over 100 KB) are not resent on the new link; what
    // crossed is the handshake, acks, keepalive and the 10 new lines.
    const resumedBytes = proxy.recorded.toTarget.reduce((n, chunk) => n + chunk.length, 0) - bytesBefore
    expect(resumedBytes).toBeLessThan(10_000)
  })

  it('--history N in text mode prints the lines, marks own ones with (you), then says where the new session starts', async () => {
    const bobPort = await freePort()
    const bob = start(['--listen', `127.0.0.1:${bobPort}`, '--name', 'bob', '--json'])
    await bob.waitFor('stdout', /"type":"listening"/)
    const aliceDir = tempDir()
    const args = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${bobPort}`, '--data-dir', aliceDir]
    const alice = start([...args, '--name', 'alice'])
    await alice.waitFor('stderr', /connected to bob/)
    bob.send('hello alice')
    await alice.waitFor('stdout', /hello alice/)
    alice.send('hi bob')
    alice.end()
    expect(await alice.exited).toBe(0)

    const again = start([...args, '--name', 'alice', '--history', '5'])
    await again.waitFor('stderr', /new session starts here/)
    // stdout and stderr are separate pipes: wait for the history lines themselves.
    await again.waitFor('stdout', /hi bob/)
    expect(again.stdout.slice(0, 2)).toEqual(['<bob> hello alice', '<alice (you)> hi bob'])
    expect(again.stderr.join('\n')).toMatch(
      /--- 2 message\(s\) of history above; new session starts here ---/,
    )
    await again.waitFor('stderr', /connected to bob/)
    again.send('after the restart')
    await bob.waitFor('stdout', /after the restart/)
    expect(bodiesOf(bob)).toEqual(['hi bob', 'after the restart'])
  })
})
