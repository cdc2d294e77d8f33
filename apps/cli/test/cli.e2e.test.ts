import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { freePort, listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

describe('parley between two real processes', () => {
  it('carries lines both ways, whichever side starts first', async () => {
    for (const order of ['alice-first', 'bob-first'] as const) {
      const [pa, pb] = [await freePort(), await freePort()]
      const aliceArgs = ['--listen', `127.0.0.1:${pa}`, '--peer', `127.0.0.1:${pb}`, '--name', 'alice']
      const bobArgs = ['--listen', `127.0.0.1:${pb}`, '--peer', `127.0.0.1:${pa}`, '--name', 'bob']
      const first = start(order === 'alice-first' ? aliceArgs : bobArgs)
      await first.waitFor('stderr', /listening on/)
      const second = start(order === 'alice-first' ? bobArgs : aliceArgs)
      const [alice, bob] = order === 'alice-first' ? [first, second] : [second, first]
      await alice.waitFor('stderr', /connected to bob/)
      await bob.waitFor('stderr', /connected to alice/)
      alice.send('hello bob')
      bob.send('hi alice')
      expect(await bob.waitFor('stdout', /hello bob/)).toBe('<alice> hello bob')
      expect(await alice.waitFor('stdout', /hi alice/)).toBe('<bob> hi alice')
      // Own messages are not echoed, status lines stay off stdout.
      expect(alice.stdout).toEqual(['<bob> hi alice'])
      expect(bob.stdout).toEqual(['<alice> hello bob'])
      alice.kill()
      bob.kill()
      expect(await alice.exited).toBe(0)
      expect(await bob.exited).toBe(0)
    }
  })

  it('delivers piped input before exiting: echo hi | parley --peer', async () => {
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await listeningPort(receiver)
    const sender = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    sender.send('hi')
    sender.send('second line')
    sender.end()
    expect(await sender.exited).toBe(0)
    expect(sender.stderr.join('\n')).toMatch(/all 2 message\(s\) delivered/)
    await receiver.waitFor('stdout', /second line/)
    expect(receiver.stdout).toEqual(['<alice> hi', '<alice> second line'])
  })

  it('says all were delivered when the acknowledgements came before its input ended, as when it waited', async () => {
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await listeningPort(receiver)
    const dial = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`]
    const sender = start(['--json', ...dial, '--name', 'alice'])
    sender.send('acked before the end')
    // Its acknowledgement is in before stdin ends: nothing is left to wait for.
    await sender.waitFor('stdout', /"type":"delivered"/)
    sender.end()
    expect(await sender.exited).toBe(0)
    expect(sender.stderr).toContain('parley: all 1 message(s) delivered')
    expect(sender.stderr.join('\n')).not.toMatch(/waiting for/)
    await receiver.waitFor('stdout', /acked before the end/)
    expect(receiver.stdout).toEqual(['<alice> acked before the end'])
  })

  it('loads the table of look-alike names only once a second key shows up, and then tells the two apart', async () => {
    // Preloaded into each parley: on exit, it says whether the look-alike table was loaded.
    const probe = join(tempDir(), 'loaded-table.mjs')
    writeFileSync(
      probe,
      `import { writeSync } from 'node:fs'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
process.on('exit', () => {
  const loaded = Object.keys(require.cache).some((p) => p.includes('unhomoglyph'))
  writeSync(2, 'look-alike table loaded: ' + loaded + '\\n')
})
`,
    )
    const env = { NODE_OPTIONS: `--import ${probe}` }
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob'], env)
    const port = await listeningPort(receiver)
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'], env)
    alice.send('just one peer')
    alice.end()
    expect(await alice.exited).toBe(0)
    expect(await alice.waitFor('stderr', /^look-alike table loaded/)).toBe('look-alike table loaded: false')
    await receiver.waitFor('stdout', /just one peer/)
    // Another key under a name that looks like alice's (a Cyrillic а): both are told apart by fingerprint.
    const other = start(
      ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', '\u0430lice'],
      env,
    )
    other.send('me too')
    other.end()
    expect(await other.exited).toBe(0)
    expect(await receiver.waitFor('stdout', /me too/)).toMatch(
      /^<\u0430lice~[a-z0-9]{4}-[a-z0-9]{4}> me too$/,
    )
    receiver.kill('SIGTERM')
    expect(await receiver.waitFor('stderr', /^look-alike table loaded/)).toBe('look-alike table loaded: true')
  })

  it('delivers to a peer that comes up only after the sender failed to reach it', async () => {
    const port = await freePort()
    const sender = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'early'])
    sender.send('waited for you')
    sender.end()
    // Its dial found nothing there, and it keeps trying.
    await sender.waitFor('stderr', /is not answering yet; will keep trying/)
    const receiver = start(['--listen', `127.0.0.1:${port}`, '--name', 'late'])
    expect(await receiver.waitFor('stdout', /waited/)).toBe('<early> waited for you')
    expect(await sender.exited).toBe(0)
  })

  it('in plain mode, exits 4 and says how many were lost when no peer ever reads them', async () => {
    const port = await freePort()
    const sender = start([
      '--plain',
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--wait',
      '0.5',
    ])
    sender.send('into the void')
    sender.end()
    expect(await sender.exited).toBe(4)
    // Nothing keeps them: the lines say they are held in memory only, then lost.
    expect(sender.stderr).toContain(
      'parley: input ended; waiting for a peer to take 1 message(s), held in memory only (gives up after 0.5s without progress)',
    )
    expect(sender.stderr).toContain(
      'parley: 1 of 1 message(s) were not delivered: no peer took them, and --plain keeps no outbox, so they are lost (is the peer running?)',
    )
  })

  it('keeps unacknowledged lines in the durable outbox, exits 7 (kept), and delivers them on the next run', async () => {
    const port = await freePort()
    const dataDir = tempDir()
    const args = [
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
      '--wait',
      '0.3',
    ]
    const first = start(args)
    first.send('kept for later')
    first.end()
    expect(await first.exited).toBe(7)
    expect(first.stderr.join('\n')).toMatch(/1 message\(s\) not acknowledged yet are safe in the outbox/)
    const receiver = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob'])
    await receiver.waitFor('stderr', /listening on/)
    const second = start(args)
    await second.waitFor('stderr', /1 message\(s\) from an earlier run wait in the outbox/)
    expect(await receiver.waitFor('stdout', /kept for later/)).toMatch(/> kept for later$/)
    second.end()
    expect(await second.exited).toBe(0)
    expect(receiver.stdout.filter((l) => l.includes('kept for later'))).toHaveLength(1)
  })

  it('reads piped input once its link is up, so no line is taken in before the handshake is done', async () => {
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--json'])
    const listening = JSON.parse(await receiver.waitFor('stdout', /"listening"/))
    const port = Number(String(listening.address).split(':').pop())
    const sender = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--json'])
    // Written before the sender even started its dial: all of it waits in the pipe.
    for (let i = 1; i <= 300; i++) sender.send(`line ${i}`)
    sender.end()
    expect(await sender.exited).toBe(0)
    const types = sender.stdout.map((line) => JSON.parse(line).type as string)
    expect(types.filter((type) => type === 'sent')).toHaveLength(300)
    expect(types.indexOf('connected')).toBeGreaterThan(-1)
    expect(types.indexOf('connected')).toBeLessThan(types.indexOf('sent'))
  })

  it('still reads piped input when its peer accepts the connection but never answers', async () => {
    // A TCP server that takes the connection and says nothing: no link, and no failed dial either.
    const silent: Server = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = silent.address() as { port: number }
      const sender = start([
        '--listen',
        '127.0.0.1:0',
        '--peer',
        `127.0.0.1:${port}`,
        '--data-dir',
        tempDir(),
        '--wait',
        '0.3',
        '--json',
      ])
      sender.send('waits in the outbox')
      sender.end()
      expect(await sender.exited).toBe(7)
      expect(sender.stdout.some((line) => /"sent".*waits in the outbox/.test(line))).toBe(true)
    } finally {
      silent.close()
    }
  })

  it('prints one JSON object per event with --json', async () => {
    const receiver = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--json'])
    const listening = JSON.parse(await receiver.waitFor('stdout', /"listening"/))
    const port = Number(String(listening.address).split(':').pop())
    const sender = start([
      '--listen',
      '127.0.0.1:0',
      '--peer',
      `127.0.0.1:${port}`,
      '--name',
      'alice',
      '--json',
    ])
    sender.send('structured')
    const message = JSON.parse(await receiver.waitFor('stdout', /"message"/))
    expect(message).toMatchObject({ type: 'message', from: 'alice', body: 'structured', seq: 1 })
    expect(typeof message.id).toBe('string')
    const sent = JSON.parse(await sender.waitFor('stdout', /"sent"/))
    const delivered = JSON.parse(await sender.waitFor('stdout', /"delivered"/))
    expect(delivered).toMatchObject({ type: 'delivered', id: sent.id, to: 'bob' })
    for (const line of [...receiver.stdout, ...sender.stdout]) expect(() => JSON.parse(line)).not.toThrow()
  })
})

describe('parley refuses bad input with a clear line and its own exit code', () => {
  it('exits 2 with a usage line for a bad flag', async () => {
    const proc = start(['--frobnicate'])
    expect(await proc.exited).toBe(2)
    expect(proc.stderr.join('\n')).toMatch(/^parley: .*frobnicate.*\(see --help\)$/m)
    expect(proc.stderr.join('\n')).not.toMatch(/\bat .*\.js:\d+/)
  })

  it('exits 2 for a malformed address', async () => {
    const proc = start(['--peer', 'localhost'])
    expect(await proc.exited).toBe(2)
    expect(proc.stderr.join('\n')).toMatch(/--peer: bad address "localhost"/)
  })

  it('exits 3 naming the address when the port is taken', async () => {
    const blocker: Server = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as { port: number }).port
    try {
      const proc = start(['--listen', `127.0.0.1:${port}`])
      expect(await proc.exited).toBe(3)
      const text = proc.stderr.join('\n')
      expect(text).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*in use`))
      expect(text).toMatch(/--listen 127\.0\.0\.1:0/)
      expect(proc.stderr).toHaveLength(1)
    } finally {
      blocker.close()
    }
  })

  it('prints help and version, exiting 0', async () => {
    const help = start(['--help'])
    expect(await help.exited).toBe(0)
    const text = help.stdout.join('\n')
    expect(text).toMatch(/--listen HOST:PORT/)
    // Every command and the flags each takes; the name's default as flags.ts reads it.
    expect(text).toMatch(/^ +parley relay \[--bootstrap HOST:PORT,\.\.\.\] \[--listen HOST:PORT\]$/m)
    expect(text).toContain('(default: $PARLEY_NAME, else your user name)')
    // The chat commands as /help lists them, line mode's only.
    expect(text).toMatch(/^ {2}\/quit \[REASON\] +say bye/m)
    expect(text).not.toContain('/members')
    const version = start(['-V'])
    expect(await version.exited).toBe(0)
    expect(version.stdout[0]).toMatch(/^parley \d+\.\d+\.\d+$/)
  })

  it('names a garbage-sending peer, drops it, and keeps chatting with the real one', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await listeningPort(bob)
    const { connect } = await import('node:net')
    const garbage = connect(port, '127.0.0.1')
    await new Promise((r) => garbage.once('connect', r))
    garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const warning = await bob.waitFor('stderr', /was dropped/)
    expect(warning).toMatch(/peer at 127\.0\.0\.1:\d+ was dropped/)
    garbage.destroy()
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    alice.send('still here?')
    expect(await bob.waitFor('stdout', /still here/)).toBe('<alice> still here?')
  })
})
