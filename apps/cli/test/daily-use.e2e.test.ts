/**
 * Daily use, end to end with the built binaries: background receivers, piped files with default flags,
 * `parley id` beside a running node, one-shot sends and catch-up, commands, and status lines.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { freePort, listeningPort, PARLEY_BIN, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'
import { lineStoppedAt, PAST_THE_OUTBOX, pipeLines, resumeAndDeliver } from './resume.js'

const { start, defer } = useBuiltParley()
// Several real processes per test on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The built `parley ARGS` as one shell word list. */
function parleyCommand(args: readonly string[]): string {
  return [process.execPath, PARLEY_BIN, ...args].map((a) => `'${a}'`).join(' ')
}

/** Runs `script` in `sh`, killed when the test ends if it is still running. */
function shell(script: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn('sh', ['-c', script], { stdio: 'ignore', ...options })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  defer(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  return { child, exited }
}

/** `parley ARGS > out < /dev/null 2> err`, as a shell script, cron or systemd would start it. */
function background(args: string[], input = '/dev/null') {
  const dir = tempDir()
  const out = join(dir, 'out.txt')
  const err = join(dir, 'err.txt')
  const { child, exited } = shell(`exec ${parleyCommand(args)} > ${out} 2> ${err} < '${input}'`, {
    env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: dir },
  })
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '')
  return {
    child,
    exited,
    stdout: () => read(out).split('\n').filter(Boolean),
    stderr: () => read(err),
    async port() {
      const line = await until('listening', () => /listening on \S+:(\d+)/.exec(read(err)) ?? undefined)
      return Number(line[1])
    },
  }
}

/** Alice's flags, with a data dir of her own, dialing a port where nothing listens until a test starts bob there. */
async function aliceToAbsentPeer() {
  const dataDir = tempDir()
  const port = await freePort()
  const args = [
    '--listen',
    '127.0.0.1:0',
    '--peer',
    `127.0.0.1:${port}`,
    '--data-dir',
    dataDir,
    '--name',
    'alice',
  ]
  return { port, args }
}

/** bob, receiving only, listening on a free loopback port; with that port. */
async function receivingBob() {
  const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only'])
  return { bob, port: await listeningPort(bob) }
}

/** `name` (alice unless said), dialing the node on loopback `port`, with `extra` flags and environment. */
const senderTo = (port: number, name = 'alice', extra: string[] = [], env?: NodeJS.ProcessEnv) =>
  start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', name, ...extra], env)
const aliceTo = (port: number) => senderTo(port)

const count = (lines: readonly string[], pattern: RegExp) => lines.filter((l) => pattern.test(l)).length

describe('receivers', () => {
  it('keeps receiving with stdin from /dev/null until it is signalled, then exits 0', async () => {
    const receiver = background(['--listen', '127.0.0.1:0', '--name', 'svc'])
    const port = await receiver.port()
    await until('the receive-only note', () => /receiving until stopped/.test(receiver.stderr()))
    const sender = aliceTo(port)
    sender.send('to the service')
    sender.end()
    expect(await sender.exited).toBe(0)
    await until('the line in out.txt', () => receiver.stdout().includes('<alice> to the service'))
    expect(receiver.child.exitCode).toBeNull()
    receiver.child.kill('SIGTERM')
    expect(await receiver.exited).toBe(0)
  })

  it('with --recv-only never reads stdin, even when lines are written to it', async () => {
    const { bob: receiver, port } = await receivingBob()
    receiver.send('this is never sent')
    receiver.end()
    const sender = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'alice',
      '--json',
    ])
    await sender.waitFor('stdout', /"type":"connected"/)
    sender.send('ping')
    sender.end()
    expect(await sender.exited).toBe(0)
    await receiver.waitFor('stdout', /<alice> ping/)
    expect(sender.stdout.filter((l) => l.includes('never sent'))).toEqual([])
    expect(receiver.child.exitCode).toBeNull()
  })
})

describe('piping a file with default flags', () => {
  it('delivers 20,000 lines whole, once and in order, and exits 0 with one summary', async () => {
    const receiver = background(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await receiver.port()
    const lines = Array.from(
      { length: 20_000 },
      (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(48)}`,
    )
    const sender = aliceTo(port)
    sender.child.stdin.end(`${lines.join('\n')}\n`)
    expect(await sender.exited).toBe(0)
    expect(sender.stderr.join('\n')).toMatch(/all 20,000 message\(s\) delivered/)
    // Flow control is summed up, never narrated line by line.
    expect(
      count(sender.stderr, /sending slower|you send faster|holding your messages|reading again/),
    ).toBeLessThanOrEqual(20)
    const got = await until(
      'every line',
      () => {
        const out = receiver.stdout()
        return out.length >= 20_000 ? out : undefined
      },
      120_000,
    )
    expect(got).toEqual(lines.map((l) => `<alice> ${l}`))
  }, 180_000)

  it('with the smallest --max-frame, sends lines together within a frame and a longer line in parts that arrive as one line', async () => {
    const receiver = background(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await receiver.port()
    const short = Array.from(
      { length: 60 },
      (_, i) => `short ${String(i).padStart(2, '0')} ${'x'.repeat(20)}`,
    )
    const long = 'y'.repeat(300)
    const sender = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'alice',
      '--max-frame',
      '1024',
    ])
    sender.child.stdin.end(`${short.join('\n')}\n${long}\nlast\n`)
    expect(await sender.exited).toBe(0)
    expect(sender.stderr.join('\n')).not.toMatch(/internal error/)
    const got = await until('the last line', () => {
      const out = receiver.stdout()
      return out.at(-1) === '<alice> last' ? out : undefined
    })
    expect(got.slice(0, 60)).toEqual(short.map((l) => `<alice> ${l}`))
    // The long line, sent in parts that each fit a frame, shown whole, then the line after it.
    expect(got.slice(60)).toEqual([`<alice> ${long}`, '<alice> last'])
  })

  it.each([
    { what: 'one line', count: 1 },
    // Written at once, so they are read at once and travel a few dozen to a message: counted as lines.
    { what: '120 piped lines carried together', count: 120 },
  ])(
    'exits 7 when input ends with $what kept in the outbox, then delivers each once, in order',
    async ({ count }) => {
      // Below the ephemeral range: no node of another test, listening on port 0, can be given it meanwhile
      // (a port freed by killing a node here once was, and the outbox went out to that node).
      const { port, args } = await aliceToAbsentPeer()
      const lines = Array.from({ length: count }, (_, i) => `kept line ${i} ${'.'.repeat(i % 40)}`)
      const first = start([...args, '--wait', '0.5'])
      first.child.stdin.write(`${lines.join('\n')}\n`)
      first.end()
      expect(await first.exited).toBe(7)
      expect(first.stderr.join('\n')).toContain(
        `${count} message(s) not acknowledged yet are safe in the outbox`,
      )
      // The next run's input ends before its peer is up: it waits for the earlier run's lines to go.
      const second = start([...args, '--wait', '30'])
      await second.waitFor(
        'stderr',
        new RegExp(`^parley: ${count} message\\(s\\) from an earlier run wait in the outbox`),
      )
      second.end()
      await second.waitFor('stderr', /input ended; waiting for/)
      const receiver = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob'])
      expect(await second.exited).toBe(0)
      // The summary counts what the earlier run left, which this run delivered.
      expect(second.stderr.join('\n')).toContain(`all ${count} message(s) delivered`)
      await receiver.waitFor('stdout', new RegExp(`kept line ${count - 1} `))
      expect(receiver.stdout).toEqual(lines.map((line) => `<alice> ${line}`))
    },
  )
})

describe('a piped file to a peer that never comes', () => {
  it('stops reading after --wait at a full outbox, exits 10 naming the first line not taken, and the rest goes later, each line once', async () => {
    const { port, args } = await aliceToAbsentPeer()
    const lines = PAST_THE_OUTBOX
    const first = start([...args, '--wait', '0.5', '--json'])
    pipeLines(first, lines)
    expect(await first.exited).toBe(10)
    const said = first.stderr.join('\n')
    const taken = lineStoppedAt(said, /stopped reading stdin after line ([\d,]+)/, lines)
    // Scripts get it as an event too, and a `sent` event for each line taken.
    const events = first.stdout.map((line) => JSON.parse(line) as { type: string })
    expect(events.filter((e) => e.type === 'input-stopped')).toEqual([
      { type: 'input-stopped', why: 'stalled', linesRead: taken, pending: taken },
    ])
    expect(events.filter((e) => e.type === 'sent')).toHaveLength(taken)
    expect(said).toContain(
      `${taken.toLocaleString('en-US')} message(s) not acknowledged yet are safe in the outbox`,
    )
    // The next run gets the rest, as the line said, and the earlier run's outbox goes first.
    const second = await resumeAndDeliver(start, args, lines, taken, port)
    expect(second.stderr.join('\n')).toContain(
      `all ${lines.length.toLocaleString('en-US')} message(s) delivered`,
    )
  })
})

describe('a piped file whose lines hold carriage returns', () => {
  it('counts lines as tail -n does: a \\r inside a line is part of it, so the first line not taken is exact', async () => {
    const { port, args } = await aliceToAbsentPeer()
    // Every other line holds a progress bar's carriage returns; the file itself ends its lines with \r\n.
    const lines = PAST_THE_OUTBOX.map((line, i) => (i % 2 === 0 ? line : `${line} 10%\r20%\r30%`))
    const first = start([...args, '--wait', '0.5', '--json'])
    first.child.stdin.on('error', () => undefined)
    first.child.stdin.write(`${lines.join('\r\n')}\r\n`)
    expect(await first.exited).toBe(10)
    const said = first.stderr.join('\n')
    const taken = lineStoppedAt(said, /stopped reading stdin after line ([\d,]+)/, lines)
    // One message per line, the carriage returns inside it kept: `tail -n +N` starts right after them.
    const sent = first.stdout
      .map((line) => JSON.parse(line) as { type: string; body?: string })
      .filter((e) => e.type === 'sent')
      .map((e) => e.body)
    expect(sent).toEqual(lines.slice(0, taken))

    const second = start([...args, '--wait', '30'])
    second.child.stdin.write(`${lines.slice(taken).join('\r\n')}\r\n`)
    second.end()
    const receiver = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--rate', '0', '--json'])
    expect(await second.exited).toBe(0)
    const bodies = () =>
      receiver.stdout
        .map((line) => JSON.parse(line) as { type: string; body?: string })
        .filter((e) => e.type === 'message')
        .map((e) => e.body)
    await until('every line at the receiver', () => bodies().length >= lines.length || undefined, 60_000)
    expect(bodies()).toEqual(lines)
  })
})

describe('piped input without a newline', () => {
  it('is sent in parts as it is read, not held until its line ends', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only', '--json'])
    const listening = JSON.parse(await bob.waitFor('stdout', /"type":"listening"/)) as { address: string }
    const alice = start(['--listen', '127.0.0.1:0', '--peer', listening.address, '--name', 'alice'])
    const messages = () =>
      bob.stdout
        .map((line) => JSON.parse(line) as { type: string; body?: string; more?: true })
        .filter((e) => e.type === 'message')
    const bodies = () => messages().map((e) => e.body)
    // A line that has not ended: its first 20,000 characters go as two messages of 10,000 at once.
    alice.child.stdin.write('p'.repeat(25_000))
    await until('the parts read so far at bob', () => bodies().length >= 2 || undefined, 30_000)
    expect(bodies()).toEqual(['p'.repeat(10_000), 'p'.repeat(10_000)])
    alice.child.stdin.end('q\nnext\n')
    expect(await alice.exited).toBe(0)
    await until('the rest at bob', () => bodies().length >= 4 || undefined, 30_000)
    expect(bodies()).toEqual(['p'.repeat(10_000), 'p'.repeat(10_000), `${'p'.repeat(5_000)}q`, 'next'])
    // Each part says that the line goes on, but the one that ends it: a script joins them by that.
    expect(messages().map((e) => e.more ?? false)).toEqual([true, true, false, false])
  })
})

describe('a file redirected to a peer that never comes', () => {
  it('read whole before its reading paused, it is not reported as left: exit 7, and the next run delivers each line once', async () => {
    const { port, args } = await aliceToAbsentPeer()
    // Past the outbox's 10,000 lines, so reading pauses; 64 bytes a line, so the read that crosses
    // 10,000 (64 KiB: 1,024 lines) is the file's last, and the read after it finds the end while paused.
    const lines = Array.from({ length: 10_100 }, (_, i) => `file line ${i + 1} `.padEnd(63, '.'))
    const file = join(tempDir(), 'lines.txt')
    writeFileSync(file, `${lines.join('\n')}\n`)
    const first = background([...args, '--wait', '0.5'], file)
    expect(await first.exited).toBe(7)
    const said = first.stderr()
    expect(said).not.toMatch(/stopped reading stdin|tail -n/)
    expect(said).toContain(
      'input ended; no acknowledgement came for 0.5s (--wait) while 10,100 message(s) waited',
    )
    expect(said).toContain('10,100 message(s) not acknowledged yet are safe in the outbox')
    // Nothing was left to resume from: the next run, with no input, sends what the outbox kept.
    const receiver = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--rate', '0'])
    await receiver.waitFor('stderr', /listening on/)
    const second = background([...args, '--wait', '30'])
    await receiver.waitFor('stdout', /file line 10100 /)
    expect(receiver.stdout).toEqual(lines.map((line) => `<alice> ${line}`))
    second.child.kill('SIGTERM')
    await second.exited
  })
})

describe('a stranger that dialed in once', () => {
  it('does not keep our later messages in the outbox for the next run', async () => {
    const bobPort = await freePort()
    const alicePort = await freePort()
    const dataDir = tempDir()
    const bob = start(['--listen', `127.0.0.1:${bobPort}`, '--name', 'bob', '--rate', '0', '--recv-only'])
    await bob.waitFor('stderr', /listening on/)
    const args = [
      '--listen',
      `127.0.0.1:${alicePort}`,
      '--peer',
      `127.0.0.1:${bobPort}`,
      '--data-dir',
      dataDir,
    ]
    const alice = start([...args, '--name', 'alice'])
    await alice.waitFor('stderr', /connected to bob/)
    alice.child.stdin.write('before carol\n')
    await bob.waitFor('stdout', /before carol$/)
    // Carol dials alice, gets what alice says, and is killed: she never comes back.
    const carol = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${alicePort}`,
      '--name',
      'carol',
      '--recv-only',
    ])
    await alice.waitFor('stderr', /connected to carol/)
    alice.child.stdin.write('with carol\n')
    await carol.waitFor('stdout', /with carol$/)
    carol.child.kill('SIGKILL')
    await alice.waitFor('stderr', /disconnected from carol/)
    const lines = Array.from({ length: 3_000 }, (_, i) => `after carol ${i + 1}`)
    alice.child.stdin.write(`${lines.join('\n')}\n`)
    alice.end()
    expect(await alice.exited).toBe(0)
    expect(alice.stderr.join('\n')).toMatch(/all 3,002 message\(s\) delivered/)
    // The next run owes nothing from this one: bob had every line, and carol is not waited for.
    const again = start([...args, '--name', 'alice', '--wait', '30'])
    again.child.stdin.write('next run\n')
    again.end()
    expect(await again.exited).toBe(0)
    const said = again.stderr.join('\n')
    expect(said).not.toMatch(/from an earlier run wait in the outbox/)
    expect(said).toMatch(/all 1 message\(s\) delivered/)
    await bob.waitFor('stdout', /next run$/)
    expect(bob.stdout.filter((line) => line.includes('after carol'))).toHaveLength(3_000)
  })
})

describe('a piped file cut short by SIGTERM', () => {
  it('names the first line not taken, and the rest goes later, each line once', async () => {
    const { port, args } = await aliceToAbsentPeer()
    const lines = PAST_THE_OUTBOX
    // --wait 0: paused at a full outbox, it would wait for good; a service manager stops it instead.
    const first = start([...args, '--wait', '0', '--json'])
    pipeLines(first, lines)
    await until(
      'a full outbox',
      () => first.stdout.filter((line) => line.includes('"sent"')).length >= 10_000,
    )
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    const said = first.stderr.join('\n')
    const taken = lineStoppedAt(said, /stopped before the end of stdin, after line ([\d,]+)/, lines)
    const events = first.stdout.map((line) => JSON.parse(line) as { type: string })
    expect(events.filter((e) => e.type === 'input-stopped')).toEqual([
      { type: 'input-stopped', why: 'interrupted', linesRead: taken, pending: taken },
    ])
    expect(events.filter((e) => e.type === 'sent')).toHaveLength(taken)
    await resumeAndDeliver(start, args, lines, taken, port)
  })
})

describe('parley id and invite beside a running node', () => {
  it('reads the identity without the lock, and says when it had to create one', async () => {
    const dataDir = tempDir()
    const node = start(['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--name', 'alice'])
    const you = await node.waitFor('stderr', /you are alice \[/)
    const short = /\[([a-z2-7]{4}-[a-z2-7]{4})\]/.exec(you)![1]!
    const id = start(['id', '--data-dir', dataDir])
    expect(await id.exited).toBe(0)
    expect(id.stdout.at(-1)).toContain(short)
    expect(id.stderr.join('\n')).not.toMatch(/created/)
    const invite = start(['invite', '--data-dir', dataDir, '--listen', '127.0.0.1:4001'])
    expect(await invite.exited).toBe(0)
    expect(invite.stdout[0]).toMatch(/^\S{20,}$/)
    // Scripts get each command's answer as one JSON object, holding what the text lines hold.
    const asJson = start(['invite', '--json', '--data-dir', dataDir, '--listen', '127.0.0.1:4001'])
    expect(await asJson.exited).toBe(0)
    expect(asJson.stdout.map((line) => JSON.parse(line))).toEqual([
      { type: 'invite', join: invite.stdout[0], key: invite.stdout[1] },
    ])
    const room = start(['room', '--json'])
    expect(await room.exited).toBe(0)
    expect(room.stdout).toHaveLength(1)
    expect(JSON.parse(room.stdout[0]!)).toEqual({
      type: 'room',
      code: expect.stringMatching(/^[a-z0-9-]{20,}$/),
    })
    const fresh = join(tempDir(), 'typo')
    const created = start(['id', '--data-dir', fresh])
    expect(await created.exited).toBe(0)
    expect(created.stderr.join('\n')).toMatch(/no identity in .*typo yet: created a new one/)
  })
})

describe('one-shot sends and catch-up', () => {
  it('shows catch-up in time order behind a marker, under the names it was sent with; a one-shot send shows none', async () => {
    const hub = start(['--listen', '127.0.0.1:0', '--name', 'hub', '--recv-only'])
    const port = await listeningPort(hub)
    const bob = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'bob'])
    await bob.waitFor('stderr', /connected to hub/)
    const carol = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'carol'])
    await carol.waitFor('stderr', /connected to hub/)
    // Interleaved in time: the hub hands them on one sender at a time.
    bob.send('b1')
    await hub.waitFor('stdout', /b1/)
    carol.send('c1')
    await hub.waitFor('stdout', /c1/)
    bob.send('/nick robert')
    bob.send('b2')
    await hub.waitFor('stdout', /b2/)
    carol.send('c2')
    await hub.waitFor('stdout', /c2/)

    const daveDir = tempDir()
    const dave = [
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'dave',
      '--data-dir',
      daveDir,
    ]
    // Catch-up is what was sent before a node started, by more than the slack it allows for clocks that
    // disagree. Every process here reads one clock, so none is needed.
    const sameClock = { PARLEY_CLOCK_SLACK_MS: '0' }
    const oneShot = start(dave, sameClock)
    oneShot.send('hi all')
    oneShot.end()
    expect(await oneShot.exited).toBe(0)
    expect(oneShot.stdout).toEqual([])
    expect(oneShot.stderr.join('\n')).not.toMatch(/message\(s\) from/)

    const erin = [
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'erin',
      '--data-dir',
      tempDir(),
    ]
    // Erin's first run: she was never away, she joins.
    const joining = start(erin, sameClock)
    joining.end()
    await joining.waitFor('stdout', /c2/)
    const marker = await joining.waitFor('stderr', /message\(s\) from/)
    expect(marker).toMatch(/^parley: [45] message\(s\) from before you joined:$/)
    // bob renamed himself, so every name his key used carries its fingerprint (a rename is flagged).
    const shown = joining.stdout
      .filter((l) => /<[\w~-]+> [bc][12]$/.test(l))
      .map((l) => l.replace(/~[a-z2-7]{4}-[a-z2-7]{4}>/, '~FP>'))
    expect(shown).toEqual(['<bob~FP> b1', '<carol> c1', '<robert~FP> b2', '<carol> c2'])
    // She leaves, bob writes, she comes back: that one she missed while she was away.
    joining.kill('SIGTERM')
    expect(await joining.exited).toBe(0)
    bob.send('b3')
    await hub.waitFor('stdout', /b3/)
    const returning = start(erin, sameClock)
    returning.end()
    await returning.waitFor('stdout', /> b3$/)
    expect(returning.stderr.filter((l) => /message\(s\) from/.test(l))).toEqual([
      'parley: 1 message(s) from while you were away:',
    ])

    // Asked for, the history is there: what the one-shot send received is in its data dir.
    // (The one-shot run may have left before the hub relayed the backlog to it, so it comes from the
    // journal or from the hub: either way it is shown, since --history asks for it.)
    const withHistory = start([...dave, '--history', '5'], sameClock)
    withHistory.send('me too')
    await withHistory.waitFor('stdout', /<carol> c2/)
    withHistory.end()
    expect(await withHistory.exited).toBe(0)
  }, 60_000)
})

describe('a backlog held up while this node ran', () => {
  it('is not said to be from while it was away, and comes before the line that its sender left', async () => {
    // bob logs the chat, stdout and stderr into one file, as `parley … >> chat.log 2>&1` does.
    const dir = tempDir()
    const log = join(dir, 'chat.log')
    const bobArgs = [
      '--listen',
      '127.0.0.1:0',
      '--name',
      'bob',
      '--recv-only',
      '--data-dir',
      join(dir, 'bob'),
    ]
    // One clock for every process here: no slack is needed to tell catch-up from live messages.
    shell(`exec ${parleyCommand(bobArgs)} >> '${log}' 2>&1 < /dev/null`, {
      env: { ...process.env, PARLEY_DEBUG: '', PARLEY_CLOCK_SLACK_MS: '0' },
    })
    const read = () => (existsSync(log) ? readFileSync(log, 'utf8') : '')
    const port = Number(
      (await until('bob listening', () => /listening on \S+:(\d+)/.exec(read()) ?? undefined))[1],
    )
    // alice writes while she reaches nobody, bob running all along: her lines wait in her outbox.
    const aliceDir = tempDir()
    const alice = (peer: number, ...more: string[]) =>
      senderTo(peer, 'alice', ['--data-dir', aliceDir, ...more])
    const apart = alice(await freePort(), '--wait', '1')
    for (const line of ['held 1', 'held 2', 'held 3']) apart.send(line)
    apart.end()
    expect(await apart.exited).toBe(7)
    // Her next run reaches bob, delivers them, and leaves.
    const back = alice(port)
    back.end()
    expect(await back.exited).toBe(0)
    const lines = (
      await until('alice leaving', () => /disconnected from alice/.test(read()) && read())
    ).split('\n')
    const header = lines.findIndex((l) => /message\(s\)/.test(l))
    expect(lines[header]).toBe('parley: 3 message(s) held up on the way:')
    expect(lines.slice(header + 1, header + 4)).toEqual([
      '<alice> held 1',
      '<alice> held 2',
      '<alice> held 3',
    ])
    expect(lines.findIndex((l) => /disconnected from alice/.test(l))).toBeGreaterThan(header + 3)
  })
})

describe('commands in line mode', () => {
  it('tells the peers the reason given to /quit', async () => {
    const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice'])
    const port = await listeningPort(alice)
    const bob = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'bob'])
    await alice.waitFor('stderr', /connected to bob \[/)
    bob.send('/quit back tomorrow')
    expect(await bob.exited).toBe(0)
    await alice.waitFor(
      'stderr',
      /^parley: disconnected from bob \[[a-z2-7]{4}-[a-z2-7]{4}\]: bob left \(back tomorrow\)$/,
    )
  })

  it('tells the peer of a /nick at once, with the fingerprint, and lists the new name', async () => {
    const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice'])
    const port = await listeningPort(alice)
    const bob = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'bob'])
    const connected = await alice.waitFor('stderr', /connected to bob \[/)
    const short = /\[([a-z2-7]{4}-[a-z2-7]{4})\]/.exec(connected)![1]!
    bob.send('as bob')
    await alice.waitFor('stdout', /<bob> as bob$/)
    bob.send('/nick robert')
    bob.send('as robert')
    const warning = await alice.waitFor('stderr', /now calls itself/)
    expect(warning).toBe(
      `parley: WARNING: bob [${short}] now calls itself robert: it is shown as robert~${short} from now on; check the fingerprint, not the name`,
    )
    await alice.waitFor('stdout', new RegExp(`<robert~${short}> as robert$`))
    alice.send('/peers')
    // Its label carries the fingerprint: it is not named a second time.
    await alice.waitFor('stderr', new RegExp(`parley: robert~${short} direct, connected`))
    bob.end()
    await alice.waitFor('stderr', new RegExp(`disconnected from robert \\[${short}\\]: robert left`))
    alice.end()
    expect(await alice.exited).toBe(0)
  })

  it('shows lines sent before a /nick under the old name, though they arrive in the same read as it', async () => {
    const { bob, port } = await receivingBob()
    // One pipe, one burst: the lines, the rename and the line after it reach bob together.
    const alice = aliceTo(port)
    alice.child.stdin.end('first\nsecond\n/nick evil\nthird\n')
    expect(await alice.exited).toBe(0)
    const third = await bob.waitFor('stdout', /> third$/)
    expect(third).toMatch(/^<evil~[a-z2-7]{4}-[a-z2-7]{4}> third$/)
    expect(bob.stdout).toEqual(['<alice> first', '<alice> second', third])
  })

  it('sends /me as an action, //text as /text, and a piped path as it is', async () => {
    const { bob: receiver, port } = await receivingBob()
    const json = start([
      '--listen',
      '127.0.0.1:0',
      '--name',
      'jay',
      '--recv-only',
      '--json',
      '--peer',
      `127.0.0.1:${port}`,
    ])
    await json.waitFor('stdout', /"type":"connected"/)
    const sender = aliceTo(port)
    sender.send('/me waves')
    sender.send('//help')
    sender.send('/usr/bin/env')
    sender.send('/help')
    sender.end()
    expect(await sender.exited).toBe(0)
    await receiver.waitFor('stdout', /usr\/bin\/env/)
    expect(receiver.stdout).toEqual(['* alice waves', '<alice> /help', '<alice> /usr/bin/env'])
    expect(sender.stderr.join('\n')).toMatch(/\/me ACTION +send an action/)
    const action = await json.waitFor('stdout', /"action":true/)
    expect(JSON.parse(action)).toMatchObject({ type: 'message', from: 'alice', body: 'waves', action: true })
  })

  it.each([
    { input: 'before\n/quit\nafter\n', after: true },
    { input: 'before\n/quit\n', after: false },
  ])(
    'sends nothing piped after /quit, and says so when lines came after it (after: $after)',
    async ({ input, after }) => {
      const { bob: receiver, port } = await receivingBob()
      const sender = aliceTo(port)
      sender.child.stdin.end(input)
      expect(await sender.exited).toBe(0)
      // The sender left once what it sent was acknowledged, hence shown: "after" would be there by now.
      await receiver.waitFor('stdout', /<alice> before/)
      expect(receiver.stdout).toEqual(['<alice> before'])
      // Told as the /quit it stopped at, not as the end of its input.
      expect(sender.stderr.includes('parley: /quit on line 2: the lines after it were not sent')).toBe(after)
      expect(sender.stderr.join('\n')).not.toMatch(/input ended/)
    },
  )

  it('runs piped commands alone and exits, instead of becoming a receiver', async () => {
    const { port } = await receivingBob()
    const alice = aliceTo(port)
    alice.child.stdin.end('/peers\n')
    expect(await alice.exited).toBe(0)
    const said = alice.stderr.join('\n')
    // The command ran (once the link is up, or after at most 2 s on a loaded machine, before it).
    expect(said).toMatch(/bob \[[a-z2-7-]+\]|no members yet/)
    expect(said).not.toMatch(/receiving until stopped/)
  })

  it('shows no catch-up to piped commands alone, as to any one-shot run', async () => {
    const { bob, port } = await receivingBob()
    const carol = senderTo(port, 'carol')
    carol.child.stdin.end('from carol\n')
    expect(await carol.exited).toBe(0)
    await bob.waitFor('stdout', /<carol> from carol/)
    const dir = tempDir()
    // One clock for every process here: carol's line is catch-up to alice, however recent.
    const alice = senderTo(port, 'alice', ['--data-dir', dir], { PARLEY_CLOCK_SLACK_MS: '0' })
    alice.send('/peers')
    // carol's line reached alice from bob, as catch-up, before her input ends.
    const journal = join(dir, 'journal.log')
    await until(
      'the catch-up in her journal',
      () => existsSync(journal) && readFileSync(journal).includes('from carol'),
    )
    alice.end()
    expect(await alice.exited).toBe(0)
    expect(alice.stderr.join('\n')).toMatch(/bob \[[a-z2-7-]+\]/)
    expect(alice.stdout).toEqual([])
    expect(alice.stderr.join('\n')).not.toMatch(/may not have shown|before you joined/)
  })

  it('says "dialing" once for /connect, and something useful when the peer is already connected', async () => {
    const { port } = await receivingBob()
    const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice'])
    alice.send(`/connect 127.0.0.1:${port}`)
    await alice.waitFor('stderr', /connected to bob/)
    alice.send(`/connect 127.0.0.1:${port}`)
    await alice.waitFor('stderr', /already connected to bob \[[a-z2-7-]+\] at 127\.0\.0\.1:/)
    expect(count(alice.stderr, /dialing 127\.0\.0\.1/)).toBe(1)
  })
})

describe('stdin as a shell gives it', () => {
  // A stat of a pipe once made Node 20's realpathSync stop early, and the secure stack failed to load: only
  // with a shell's pipe as stdin and without the test runner's environment, so both are as a user has them.
  it('sends through a pipe from the shell (a FIFO, not the socket pair a test harness gives)', async () => {
    const { bob, port } = await receivingBob()
    const dir = tempDir()
    const parley = parleyCommand(['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', dir])
    const out = join(dir, 'out.txt')
    const rc = join(dir, 'rc.txt')
    // Both ends are pipes of the shell, as in `printf … | parley … 2>&1 | less`.
    const { exited } = shell(
      `{ printf 'through a pipe\\n' | ${parley} --peer 127.0.0.1:${port} 2>&1; echo $? > ${rc}; } | cat > ${out}`,
      // A user's environment: none of the test runner's variables.
      { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
    )
    await exited
    expect(readFileSync(out, 'utf8')).not.toMatch(/internal error/)
    expect(readFileSync(rc, 'utf8').trim()).toBe('0')
    await bob.waitFor('stdout', /<alice> through a pipe$/)
  })

  it('receives when a file given as stdin has nothing left to read, as with /dev/null', async () => {
    const dir = tempDir()
    const file = join(dir, 'one.txt')
    writeFileSync(file, 'already read\n')
    const err = join(dir, 'err.txt')
    const parley = parleyCommand(['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', dir])
    // The shell reads the file's one line first, so parley's stdin is the file at its end.
    const { child, exited } = shell(`{ read line; exec ${parley} 2> ${err}; } < ${file}`)
    await until('the receiving note', () =>
      /no input to send: receiving until stopped/.test(existsSync(err) ? readFileSync(err, 'utf8') : ''),
    )
    expect(child.exitCode).toBeNull()
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})

describe('a file as stdin', () => {
  it('is a one-shot send from the start: the room backlog is not printed while the file waits to be read', async () => {
    // Every node here reads one clock: whatever was sent before alice started is catch-up, however recent.
    vi.stubEnv('PARLEY_CLOCK_SLACK_MS', '0')
    defer(() => {
      vi.unstubAllEnvs()
    })
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only', '--rate', '0'])
    const port = await listeningPort(bob)
    // Carol leaves a backlog in the room: bob relays it to whoever joins later.
    const carol = start(['--listen', '127.0.0.1:0', '--name', 'carol', '--peer', `127.0.0.1:${port}`])
    carol.child.stdin.end(`${Array.from({ length: 300 }, (_, i) => `backlog ${i + 1}`).join('\n')}\n`)
    expect(await carol.exited).toBe(0)
    // Alice's file is longer than her outbox holds while a dead --peer keeps it: her input stays open.
    const file = join(tempDir(), 'lines.txt')
    writeFileSync(file, `${Array.from({ length: 40_000 }, (_, i) => `alice line ${i + 1}`).join('\n')}\n`)
    const dead = await freePort()
    const args = (dir: string) => [
      '--listen',
      '127.0.0.1:0',
      '--name',
      'alice',
      '--rate',
      '0',
      '--data-dir',
      dir,
      '--peer',
      `127.0.0.1:${port}`,
      '--peer',
      `127.0.0.1:${dead}`,
      '--wait',
      '3',
    ]
    // The same lines through a pipe may be `tail -f`: after a second it is shown the backlog, as catch-up.
    // This shows that the backlog reaches a sender in this setup.
    const piped = start(args(tempDir()))
    piped.child.stdin.write(readFileSync(file))
    await piped.waitFor('stderr', /300 message\(s\) from before you joined/)
    await piped.waitFor('stdout', /<carol> backlog 300$/)
    piped.kill()
    await piped.exited
    // From a file, it is a one-shot send: it gives up at the full outbox (exit 10) with no backlog shown.
    const fromFile = background(args(tempDir()), file)
    expect(await fromFile.exited).toBe(10)
    expect(fromFile.stderr()).toMatch(/outbox stayed full/)
    expect(fromFile.stderr()).not.toMatch(/message\(s\) from/)
    expect(fromFile.stdout().filter((line) => line.includes('backlog'))).toEqual([])
  })
})

describe('/disconnect', () => {
  it('stops dialing a dead address, so what the live peer acknowledged is delivered and the run exits 0', async () => {
    const { bob, port } = await receivingBob()
    const dead = await freePort()
    const alice = start([
      '--listen',
      '127.0.0.1:0',
      '--name',
      'alice',
      '--data-dir',
      tempDir(),
      '--peer',
      `127.0.0.1:${port}`,
      '--peer',
      `127.0.0.1:${dead}`,
      '--wait',
      '60',
    ])
    await alice.waitFor('stderr', /connected to bob/)
    alice.send('hello bob')
    await bob.waitFor('stdout', /hello bob/)
    alice.send('/disconnect 127.0.0.1:1')
    await alice.waitFor('stderr', /not dialing 127\.0\.0\.1:1; dialing 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/)
    alice.send(`/disconnect 127.0.0.1:${dead}`)
    await alice.waitFor('stderr', new RegExp(`stopped dialing 127\\.0\\.0\\.1:${dead}`))
    alice.end()
    // Without the /disconnect, the dead address would hold the message: the run would wait out --wait and
    // exit 7, the message kept. (Input may end before bob's ack comes; then it waits for that ack alone.)
    expect(await alice.exited).toBe(0)
    expect(alice.stderr.join('\n')).not.toMatch(/safe in the outbox/)
    expect(count(bob.stdout, /hello bob/)).toBe(1)
  })

  it('tells the other end the link was closed, not that its peer left, and both see the mesh still reaches it', async () => {
    // A ring: bob in the middle relays between alice and carol, who also hold a link of their own.
    const { bob, port } = await receivingBob()
    const carol = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'carol'])
    const carolPort = await listeningPort(carol)
    const alice = start([
      '--listen',
      '127.0.0.1:0',
      '--name',
      'alice',
      '--peer',
      `127.0.0.1:${port}`,
      '--peer',
      `127.0.0.1:${carolPort}`,
    ])
    await alice.waitFor('stderr', /connected to bob/)
    await alice.waitFor('stderr', /connected to carol/)
    await bob.waitFor('stderr', /connected to carol/)
    alice.send(`/disconnect 127.0.0.1:${carolPort}`)
    const told = await carol.waitFor('stderr', /disconnected from alice/)
    expect(told).toMatch(
      /^parley: disconnected from alice \[[a-z2-7]{4}-[a-z2-7]{4}\]: alice closed this link with \/disconnect; it has not left/,
    )
    expect(carol.stderr.join('\n')).not.toMatch(/alice left/)
    // What alice says next still reaches carol, through bob; and /peers says so before it does.
    alice.send('/peers')
    await alice.waitFor(
      'stderr',
      /carol \[[a-z2-7]{4}-[a-z2-7]{4}\] direct, its link is down; reachable through the mesh$/,
    )
    alice.send('through bob')
    await carol.waitFor('stdout', /<alice> through bob$/)
  })
})

describe('status lines', () => {
  it('shows a peer that dialed in at the address it listens on, not its source port', async () => {
    const { bob, port } = await receivingBob()
    const alice = aliceTo(port)
    const alicePort = await listeningPort(alice)
    const line = await bob.waitFor('stderr', /connected to alice/)
    expect(line).toMatch(new RegExp(`at 127\\.0\\.0\\.1:${alicePort} \\(direct TCP\\)$`))
  })

  it('leaves quietly on Ctrl-C: no disconnected or reconnecting lines', async () => {
    const { port } = await receivingBob()
    const alice = aliceTo(port)
    await alice.waitFor('stderr', /connected to bob/)
    const before = alice.stderr.length
    alice.kill('SIGINT')
    expect(await alice.exited).toBe(0)
    expect(alice.stderr.slice(before).filter((l) => /disconnected|reconnecting|dialing/.test(l))).toEqual([])
  })

  it('does not blame --plain when a peer restarts', async () => {
    const bobDir = tempDir()
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only', '--data-dir', bobDir])
    const port = await listeningPort(bob)
    const alice = aliceTo(port)
    await alice.waitFor('stderr', /connected to bob/)
    bob.kill('SIGKILL')
    await bob.exited
    await alice.waitFor('stderr', /reconnecting to bob|disconnected from bob/)
    const again = start([
      '--listen',
      `127.0.0.1:${port}`,
      '--name',
      'bob',
      '--recv-only',
      '--data-dir',
      bobDir,
    ])
    await again.waitFor('stderr', /connected to alice/)
    await alice.waitFor('stderr', /connected to bob/)
    expect(alice.stderr.filter((l) => /--plain/.test(l))).toEqual([])
  })

  it('calls a stale lock after kill -9 a notice, not a failure', async () => {
    const dataDir = tempDir()
    const first = start(['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--recv-only'])
    await first.waitFor('stderr', /listening on/)
    first.kill('SIGKILL')
    await first.exited
    const second = start(['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--recv-only'])
    const notice = await second.waitFor('stderr', /did not exit cleanly/)
    expect(notice).toMatch(
      /^parley: the last parley on this data dir did not exit cleanly: took over a lock of pid \d+, which is not running; nothing is lost$/,
    )
    expect(second.stderr.filter((l) => /cannot write the data dir/.test(l))).toEqual([])
    second.kill('SIGKILL')
    await second.exited
    // A script (--json) is told too, as an event.
    const third = start(['--json', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--recv-only'])
    const event = JSON.parse(await third.waitFor('stdout', /"type":"notice"/))
    expect(event).toEqual({
      type: 'notice',
      text: expect.stringMatching(
        /^the last parley on this data dir did not exit cleanly: took over a lock of pid \d+/,
      ),
    })
  })

  it('gives up on a --plain node after one clear refusal instead of redialing it', async () => {
    const plain = start(['--plain', '--listen', '127.0.0.1:0', '--name', 'old'])
    plain.end()
    const port = await listeningPort(plain)
    const secure = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'new',
      '--recv-only',
    ])
    const line = await secure.waitFor('stderr', /gave up on/)
    expect(line).toMatch(/is not speaking the parley secure protocol.*run parley with --plain too/)
    // Something that takes longer than several redials would: a full exchange with a second node.
    const other = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'x'])
    other.send('after the refusal')
    other.end()
    await plain.waitFor('stdout', /after the refusal/)
    expect(await other.exited).toBe(0)
    expect(count(plain.stderr, /connected to .*unencrypted/)).toBeLessThanOrEqual(2)
    expect(count(secure.stderr, /gave up|cannot reach|connected/)).toBe(1)
  })

  it('answers nc at a secure node with one line saying what it reached', async () => {
    const { port } = await receivingBob()
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('hello?\n'))
      let text = ''
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => {
        text += chunk
      })
      socket.on('close', () => resolve(text))
      socket.on('error', reject)
    })
    expect(reply).toMatch(/^parley: this is an encrypted parley node; .*--plain.*\n$/)
    expect(reply.split('\n')).toHaveLength(2)
  })

  it('suggests the closest option for a typo', async () => {
    const typo = start(['--lissen', '127.0.0.1:0'])
    expect(await typo.exited).toBe(2)
    expect(typo.stderr).toEqual(['parley: unknown option --lissen; did you mean --listen? (see --help)'])
  })

  it('says so when it gave up on every peer it dials, and waits only for a peer that links to it: exit 7', async () => {
    const port = await freePort()
    const self = start(['--listen', `127.0.0.1:${port}`, '--peer', `127.0.0.1:${port}`, '--wait', '1'])
    self.child.stdin.end('to nobody\n')
    expect(await self.exited).toBe(7)
    const said = self.stderr.join('\n')
    expect(said).toMatch(/gave up on 127\.0\.0\.1:\d+: this node dialed itself/)
    expect(said).toContain(
      'input ended; this node gave up on every peer it dials (see above): waiting for a peer that links to it to acknowledge 1 message(s) (gives up after 1s without progress)',
    )
    expect(said).toContain('1 message(s) not acknowledged yet are safe in the outbox')
  })

  it('names a peer that took the connection and never finished the handshake, when --wait ends first', async () => {
    // Something on the port that is not parley: it accepts and says nothing.
    const held: Socket[] = []
    const silent = createServer((socket) => held.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    defer(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of held) socket.destroy()
          silent.close(() => resolve())
        }),
    )
    const port = (silent.address() as { port: number }).port
    const sender = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--wait', '2'])
    sender.child.stdin.end('hello?\n')
    expect(await sender.exited).toBe(7)
    expect(sender.stderr).toContain(
      `parley: no link to 127.0.0.1:${port}: its connection was still being set up when the wait ended (is parley listening there, and not paused?)`,
    )
    expect(sender.stderr.at(-1)).toMatch(/1 message\(s\) not acknowledged yet are safe in the outbox/)
  })

  it('appends its log to no file that holds something else: exit 2, the file as it was', async () => {
    const dir = tempDir()
    const notes = join(dir, 'notes.txt')
    writeFileSync(notes, 'my notes\n')
    const wrong = start(['--log-file', notes, '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')])
    expect(await wrong.exited).toBe(2)
    expect(wrong.stderr).toEqual([
      `parley: the log ${notes} already holds something other than parley's log (it starts "my notes"): parley appends only to its own; give --log-file a new file, or an empty one`,
    ])
    expect(readFileSync(notes, 'utf8')).toBe('my notes\n')
  })

  it('points a file given to --allow to --allow-file', async () => {
    const file = join(tempDir(), 'keys.txt')
    writeFileSync(file, `${'a'.repeat(64)}\n`)
    const wrong = start(['--allow', file, '--listen', '127.0.0.1:0', '--data-dir', tempDir()])
    expect(await wrong.exited).toBe(2)
    expect(wrong.stderr.at(-1)).toMatch(
      /^parley: --allow ".*keys\.txt" is not a key: .*; to read keys from a file, use --allow-file .*keys\.txt \(see --help\)$/,
    )
  })

  it('points an invite given to --allow, --peer-key or an allow file to the fingerprint in it', async () => {
    const fp = '4fzb-mruw-7kuk-svjb-4nv2-tnaz-4fsn-2qam-jp3b-2jys-652f-v5ge-frnx-ywrw'
    const said = `is an invite, not a key: give the fingerprint in it alone (${fp})`
    const allowFile = join(tempDir(), 'friends.txt')
    writeFileSync(allowFile, `# from the invite\nparley://${fp}\n`)
    for (const [args, code] of [
      [['--allow', `parley://127.0.0.1:4001/${fp}`], 2],
      [['--peer', '127.0.0.1:4001', '--peer-key', `parley://${fp}`], 2],
      [['--allow-file', allowFile], 6],
    ] as const) {
      const proc = start([...args, '--listen', '127.0.0.1:0', '--data-dir', tempDir()])
      expect(await proc.exited).toBe(code)
      expect(proc.stderr).toHaveLength(1)
      expect(proc.stderr[0]).toContain(said)
      expect(proc.stderr[0]).not.toContain('--allow-file parley://')
    }
  })
})
