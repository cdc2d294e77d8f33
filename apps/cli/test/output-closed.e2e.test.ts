/**
 * A reader that closes parley's stdout early (`parley … | head`), end to end with the built binary: parley
 * stops as it does on SIGTERM, says where, keeps what it took, and exits 11 instead of a silent 0.
 */
import { freePort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'
import { resumeAndDeliver } from './resume.js'

const { start } = useBuiltParley()
// Three real processes on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })

/** The one line a sender stopped by its closed stdout leaves; a shell pipe's reader gives EPIPE. */
const STOPPED_EARLY =
  /^parley: stdout was closed \((?:EPIPE|ECONNRESET)\): stopped before the end of stdin, after line ([\d,]+); the rest was not taken: .*tail -n \+(\d+) FILE\)$/

describe('a sender whose stdout reader goes away', () => {
  it('exits 11, names the first line not taken, and the rest goes later, each line once', async () => {
    const port = await freePort()
    const args = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--data-dir', tempDir()]
    const lines = Array.from({ length: 15_000 }, (_, i) => `file line ${i + 1}`)
    // The peer never comes: the outbox fills at 10,000, so the input cannot be read to its end, and the
    // `sent` events of what was read are far more than a pipe holds, so parley writes after it is closed.
    // (A child's stdio is a socket pair: a write there fails with ECONNRESET, where a shell pipe's is EPIPE.)
    const first = start([...args, '--name', 'alice', '--json', '--wait', '0'])
    first.child.stdin.write(`${lines.join('\n')}\n`)
    await first.waitFor('stdout', /"type":"sent"/)
    first.child.stdout.destroy()
    expect(await first.exited).toBe(11)
    // Its stderr may still be on the way when it exits: the outbox line is the last one.
    await first.waitFor('stderr', /safe in the outbox/)
    const closed = first.stderr.filter((line) => line.includes('stdout was closed'))
    expect(closed).toHaveLength(1)
    const match = STOPPED_EARLY.exec(closed[0] as string)
    expect(match).not.toBeNull()
    const taken = Number(match?.[1]?.replaceAll(',', ''))
    expect(taken).toBeGreaterThan(0)
    expect(taken).toBeLessThan(lines.length)
    expect(Number(match?.[2])).toBe(taken + 1)
    expect(first.stderr.join('\n')).toContain(
      `${taken.toLocaleString('en-US')} message(s) not acknowledged yet are safe in the outbox`,
    )
    // The next run sends the outbox and the rest of the file: the peer gets every line once, in order.
    await resumeAndDeliver(start, [...args, '--name', 'alice'], lines, taken, port)
  })
})

describe('a receiver piped into head', () => {
  it('stops at the first line written after head left, says so, and shows that line on the next run', async () => {
    const dataDir = tempDir()
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', dataDir])
    receiver.end()
    const listening = await receiver.waitFor('stderr', /listening on /)
    await receiver.waitFor('stderr', /receiving until stopped/)
    const port = /:(\d+)$/.exec(listening)?.[1]
    const sender = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    sender.send('first')
    await receiver.waitFor('stdout', /first$/)
    receiver.child.stdout.destroy()
    sender.send('second')
    expect(await receiver.exited).toBe(11)
    await receiver.waitFor('stderr', /stdout was closed/)
    const closed = receiver.stderr.filter((line) => line.includes('stdout was closed'))
    expect(closed).toHaveLength(1)
    expect(closed[0]).toMatch(/^parley: stdout was closed \((?:EPIPE|ECONNRESET)\): stopped$/)
    // The line the closed stdout refused was never marked as shown: the next run shows it, and only it.
    const again = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', dataDir, '--recv-only'])
    await again.waitFor('stdout', /second$/)
    expect(again.stdout.filter((line) => line.includes('<alice>'))).toEqual(['<alice> second'])
  })
})
