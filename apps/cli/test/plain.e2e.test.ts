/**
 * Plain mode end to end (issue 4): real `parley --plain` processes talking newline-separated text to
 * the real OpenBSD `nc`, to a minimal raw-socket peer, and to secure nodes that speak another protocol.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { freePort, listeningPort, type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start, defer } = useBuiltParley()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const count = (lines: string[], pattern: RegExp) => lines.filter((l) => pattern.test(l)).length
const isRunning = (proc: Proc) => proc.child.exitCode === null && proc.child.signalCode === null
const NOT_SECURE = 'is not speaking the parley secure protocol (is it running with --plain?)'

/** Polls `condition` every 25 ms for up to `timeoutMs`. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 25) {
    if (condition()) return
    await sleep(25)
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

// ---- the real netcat --------------------------------------------------------------------------------

const NC = spawnSync('sh', ['-c', 'command -v nc'], { encoding: 'utf8' }).stdout.trim()
const NC_FLAVOUR = NC ? spawnSync(NC, ['-h'], { encoding: 'utf8' }).stderr : ''
const NC_MISSING =
  '(SKIPPED: `nc` is not on PATH; tooling/scripts/ensure-tools.js installs netcat-openbsd, or: apt-get install netcat-openbsd)'

interface Netcat {
  readonly child: ChildProcessWithoutNullStreams
  readonly lines: string[]
  send(line: string): void
  end(): void
  readonly exited: Promise<number | null>
}

function netcat(args: string[]): Netcat {
  const child = spawn(NC, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk
    const parts = partial.split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
  })
  child.stdin.on('error', () => undefined)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return {
    child,
    lines,
    exited,
    send: (line) => child.stdin.write(`${line}\n`),
    end: () => child.stdin.end(),
  }
}

describe.skipIf(!NC)(`plain mode with the real nc ${NC ? '' : NC_MISSING}`, () => {
  it('is driven with the OpenBSD netcat that CI installs', () => {
    expect(NC_FLAVOUR, 'these tests use OpenBSD nc flags (-l HOST PORT, -N); install netcat-openbsd').toMatch(
      /OpenBSD netcat/,
    )
  })

  it('nc dials parley --plain --listen: nc lines are printed, parley lines reach nc, and EOF ends the link', async () => {
    const parley = start(['--plain', '--listen', '127.0.0.1:0'])
    const port = await listeningPort(parley)
    const nc = netcat(['-N', '127.0.0.1', String(port)])
    await parley.waitFor('stderr', /connected/)
    nc.send('hello from nc')
    nc.send('second line, with spaces and ümlauts')
    expect(await parley.waitFor('stdout', /hello from nc/)).toMatch(/^<127\.0\.0\.1:\d+> hello from nc$/)
    expect(await parley.waitFor('stdout', /second line/)).toMatch(/> second line, with spaces and ümlauts$/)
    parley.send('hello from parley')
    await waitUntil(() => nc.lines.includes('hello from parley'), 'nc prints the line parley sent')
    expect(nc.lines).toEqual(['hello from parley'])
    // -N: nc shuts its side down at EOF; parley closes the link, so nc exits cleanly, and parley lives on.
    nc.end()
    expect(await nc.exited).toBe(0)
    await parley.waitFor('stderr', /disconnected/)
    expect(isRunning(parley)).toBe(true)
    expect(parley.stdout).toHaveLength(2)
  })

  it('parley --plain --peer dials nc -l: both directions carry lines', async () => {
    const port = await freePort()
    const nc = netcat(['-l', '127.0.0.1', String(port)])
    const parley = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`])
    await parley.waitFor('stderr', /connected/)
    parley.send('ping from parley')
    await waitUntil(() => nc.lines.includes('ping from parley'), 'nc -l prints the line parley sent')
    nc.send('pong from nc')
    expect(await parley.waitFor('stdout', /pong/)).toMatch(/^<127\.0\.0\.1:\d+> pong from nc$/)
    expect(nc.lines).toEqual(['ping from parley'])
  })

  it('works over IPv6 loopback: nc -6 to parley --plain --listen [::1]:0', async () => {
    const parley = start(['--plain', '--listen', '[::1]:0'])
    const port = await listeningPort(parley)
    const nc = netcat(['-6', '-N', '::1', String(port)])
    await parley.waitFor('stderr', /connected/)
    nc.send('over ipv6')
    expect(await parley.waitFor('stdout', /over ipv6/)).toMatch(/^<\[::1\]:\d+> over ipv6$/)
    parley.send('back over ipv6')
    await waitUntil(() => nc.lines.includes('back over ipv6'), 'nc prints the line parley sent')
  })

  it('a line nc sends without a final newline is still shown when nc hangs up', async () => {
    const parley = start(['--plain', '--listen', '127.0.0.1:0'])
    const port = await listeningPort(parley)
    const nc = netcat(['-N', '127.0.0.1', String(port)])
    await parley.waitFor('stderr', /connected/)
    nc.child.stdin.end('no newline at the end')
    expect(await parley.waitFor('stdout', /no newline/)).toMatch(/> no newline at the end$/)
    expect(await nc.exited).toBe(0)
  })
})

// ---- a piped file between two plain nodes ------------------------------------------------------------

describe('a piped file from one parley --plain to another', () => {
  /**
   * What is piped: every kind of line a file holds (a lone \r is inside its line, as `wc -l` counts
   * lines), then numbered lines, cut into writes mid-line.
   */
  const NUMBERED = 20_000
  const special = ['crlf line\r\n', 'lone cr\r', 'after cr\n', '\n', '//slash\n', '/me waves\n']
  const long = 'x'.repeat(10_500)
  const input = [
    ...special,
    `${long}\n`,
    'grüße 😀\n',
    ...Array.from({ length: NUMBERED }, (_, i) => `${i + 1} of the numbered lines\n`),
    'no newline at the end',
  ].join('')
  /** The lines the receiver shows, without the sender's name. */
  const shown = [
    'crlf line',
    'lone cr^Mafter cr',
    '',
    '/slash',
    '* waves',
    // Sent in two parts, the first without its line end: one line on the wire, as netcat would send it.
    long,
    'grüße 😀',
    ...Array.from({ length: NUMBERED }, (_, i) => `${i + 1} of the numbered lines`),
    'no newline at the end',
  ]

  async function pipe(senderArgs: string[] = []) {
    const receiver = start(['--plain', '--recv-only', '--listen', '127.0.0.1:0'])
    const port = await listeningPort(receiver)
    const sender = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, ...senderArgs])
    // Written in pieces that cut lines, a \r\n and a character in two.
    const bytes = Buffer.from(input)
    for (let at = 0; at < bytes.length; at += 7_001) sender.child.stdin.write(bytes.subarray(at, at + 7_001))
    sender.end()
    expect(await sender.exited).toBe(0)
    await receiver.waitFor('stdout', /no newline at the end$/)
    return { receiver, sender }
  }

  it('arrives line for line, in order: line ends of every kind, an action, a long line whole, and 20,000 more', async () => {
    const { receiver } = await pipe()
    const bodies = receiver.stdout.map((line) => line.replace(/^<[^>]+> /, '').replace(/^\* \S+ /, '* '))
    expect(bodies).toEqual(shown)
  })

  it('tells a script each message sent, one event each, in order (--json)', async () => {
    const { sender, receiver } = await pipe(['--json'])
    const sent = sender.stdout
      .map((line) => JSON.parse(line) as { type: string; body?: string; seq?: number })
      .filter((event) => event.type === 'sent')
    // One more message sent than lines shown: the long line's two parts.
    expect(sent).toHaveLength(shown.length + 1)
    expect(sent.map((event) => event.seq)).toEqual([...shown, ''].map((_, i) => i + 1))
    expect(sent.at(-1)?.body).toBe('no newline at the end')
    expect(receiver.stdout).toHaveLength(shown.length)
  })
})

// ---- a raw peer that listens and dials at once -----------------------------------------------------

/**
 * The simplest raw-socket chat peer: it listens and dials, keeps whichever socket connects first, and
 * closes the other. "First" is in the order its event loop notices them: while `holdAccepts` is on,
 * sockets the kernel accepted wait unnoticed, which is how both ends of a crossing dial can each see
 * their own dial win.
 */
function rawPeer() {
  const lines: string[] = []
  const state = { how: '' as 'accepted' | 'dialed' | '', closed: 0 }
  let kept: Socket | undefined
  let held: Socket[] | undefined
  const adopt = (socket: Socket, how: 'accepted' | 'dialed') => {
    socket.on('error', () => undefined)
    if (kept) {
      state.closed++
      socket.destroy()
      return
    }
    kept = socket
    state.how = how
    let partial = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n')
      partial = parts.pop() ?? ''
      lines.push(...parts)
    })
  }
  const server: Server = createServer((socket) => (held ? held.push(socket) : adopt(socket, 'accepted')))
  defer(() => {
    kept?.destroy()
    for (const socket of held ?? []) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    lines,
    state,
    holdAccepts() {
      held = []
    },
    noticeAccepts() {
      const waiting = held ?? []
      held = undefined
      for (const socket of waiting) adopt(socket, 'accepted')
      return waiting.length
    },
    listen: (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    dial: (port: number) =>
      new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          adopt(socket, 'dialed')
          resolve()
        })
        socket.once('error', reject)
      }),
    send: (line: string) => kept?.write(`${line}\n`),
  }
}

describe('plain mode with a raw peer that listens and dials at once', () => {
  /** Text both ways over whatever link the raw peer kept. */
  async function chatsBothWays(parley: Proc, raw: ReturnType<typeof rawPeer>) {
    raw.send('from the raw peer')
    expect(await parley.waitFor('stdout', /from the raw peer/)).toMatch(/> from the raw peer$/)
    parley.send('from parley')
    parley.send('and another')
    await waitUntil(() => raw.lines.includes('and another'), 'the raw peer receives both lines')
    // Later lines each way come after any second copy of the earlier ones, or any echo of parley's own.
    parley.send('and the last')
    await waitUntil(() => raw.lines.includes('and the last'), 'the raw peer receives the last line')
    raw.send('the raw peer is done')
    await parley.waitFor('stdout', /the raw peer is done/)
    expect(raw.lines).toEqual(['from parley', 'and another', 'and the last'])
    expect(parley.stdout).toHaveLength(2)
  }

  it("keeps the raw peer when it closes the link parley dialed (parley's preferred one)", async () => {
    const raw = rawPeer()
    const rawPort = await freePort()
    raw.holdAccepts()
    await raw.listen(rawPort)
    const parley = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${rawPort}`])
    const parleyPort = await listeningPort(parley)
    // Parley's dial is through (the kernel accepted it); the raw peer has not noticed it yet.
    await parley.waitFor('stderr', /connected to/)
    await raw.dial(parleyPort)
    await waitUntil(() => count(parley.stderr, /connected to/) === 2, 'parley holds both links')
    // The raw peer's own dial came first in its loop, so it closes the one parley dialed.
    expect(raw.noticeAccepts()).toBe(1)
    expect(raw.state).toEqual({ how: 'dialed', closed: 1 })
    await parley.waitFor('stderr', /disconnected/)
    await sleep(300)
    await chatsBothWays(parley, raw)
    // The surviving link is the peer: parley neither redials nor reports losing it.
    expect(count(parley.stderr, /reconnecting|gave up/)).toBe(0)
  })

  it('keeps the raw peer when it closes the link it dialed itself', async () => {
    const raw = rawPeer()
    const rawPort = await freePort()
    await raw.listen(rawPort)
    const parley = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${rawPort}`])
    const parleyPort = await listeningPort(parley)
    await waitUntil(() => raw.state.how === 'accepted', 'parley reaches the raw peer')
    await raw.dial(parleyPort)
    expect(raw.state).toEqual({ how: 'accepted', closed: 1 })
    await parley.waitFor('stderr', /disconnected/)
    await sleep(300)
    await chatsBothWays(parley, raw)
    expect(count(parley.stderr, /reconnecting|gave up/)).toBe(0)
  })

  it('settles on the link the raw peer dialed while its own port was still closed', async () => {
    const raw = rawPeer()
    const rawPort = await freePort()
    const parley = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${rawPort}`])
    const parleyPort = await listeningPort(parley)
    await raw.dial(parleyPort)
    await raw.listen(rawPort)
    await sleep(1_500)
    // Whether or not a redial got through, the raw peer kept its own link and parley still has it.
    expect(raw.state.how).toBe('dialed')
    await chatsBothWays(parley, raw)
    expect(count(parley.stderr, /reconnecting|gave up/)).toBe(0)
  })
})

// ---- plain and secure side by side -----------------------------------------------------------------

describe('mixing plain and secure nodes', () => {
  it('marks plain mode as unencrypted on stderr, with and without --json', async () => {
    for (const extra of [[], ['--json']]) {
      const parley = start(['--plain', '--listen', '127.0.0.1:0', ...extra])
      const line = await parley.waitFor('stderr', /PLAIN MODE/)
      expect(line).toMatch(/^parley: PLAIN MODE: nothing is encrypted or authenticated/)
      expect(parley.stdout.join('\n')).not.toMatch(/PLAIN MODE/)
    }
    // A secure node says nothing of the sort.
    const secure = start(['--listen', '127.0.0.1:0'])
    await secure.waitFor('stderr', /you are/)
    expect(secure.stderr.join('\n')).not.toMatch(/PLAIN MODE|unencrypted/i)
  })

  it('starts a plain node without loading the handshake, its native crypto or node:zlib, which a secure node loads', async () => {
    // Preloaded into parley: on exit, it says which of the handshake's CommonJS packages were loaded.
    const probe = join(tempDir(), 'loaded-crypto.mjs')
    writeFileSync(
      probe,
      `import { writeSync } from 'node:fs'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
process.on('exit', () => {
  const loaded = Object.keys(require.cache).filter((p) => /sodium-native|secret-stream|noise-handshake/.test(p))
  const builtins = ['crypto', 'zlib'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m))
  writeSync(2, 'loaded builtins: [' + builtins.join(' ') + ']\\n')
  writeSync(2, 'loaded crypto modules: ' + loaded.length + '\\n')
})
`,
    )
    const env = { NODE_OPTIONS: `--import ${probe}` }
    const crypto = async (args: string[]) => {
      const parley = start([...args, '--recv-only', '--listen', '127.0.0.1:0'], env)
      await parley.waitFor('stderr', /listening on/)
      parley.child.kill('SIGTERM')
      const modules = Number((await parley.waitFor('stderr', /^loaded crypto modules: \d+$/)).split(': ')[1])
      const builtins = (await parley.waitFor('stderr', /^loaded builtins: /)).split(': ')[1]
      return { modules, builtins }
    }
    expect(await crypto(['--plain'])).toEqual({ modules: 0, builtins: '[]' })
    const secure = await crypto([])
    expect(secure.modules).toBeGreaterThan(0)
    // node:crypto neither: a secure node loads it at its first chain hash (see @parley/secure).
    expect(secure.builtins).toBe('[zlib]')
  })

  it('a secure node dialed by a plain node and by nc names them and keeps serving a secure peer', async () => {
    const secure = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await listeningPort(secure)

    const plain = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`])
    plain.send('hello, anyone?')
    const first = await secure.waitFor('stderr', /not speaking/)
    expect(first).toMatch(/^parley: peer at 127\.0\.0\.1:\d+ /)
    expect(first).toContain(NOT_SECURE)
    plain.kill('SIGKILL')

    if (NC) {
      const nc = netcat(['-N', '127.0.0.1', String(port)])
      nc.send('hi there')
      nc.end()
      await waitUntil(() => count(secure.stderr, /not speaking/) >= 2, 'the secure node names nc too')
      await nc.exited
    }

    const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice', '--peer', `127.0.0.1:${port}`])
    alice.send('still serving?')
    expect(await secure.waitFor('stdout', /still serving/)).toBe('<alice> still serving?')
    expect(secure.stdout).toEqual(['<alice> still serving?'])
    expect(isRunning(secure)).toBe(true)
  })

  it('a one-shot send from a plain node to a secure node exits 4, saying the secure node read none of its lines', async () => {
    const secure = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only'])
    const port = await listeningPort(secure)
    const plain = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--wait', '60'])
    // One write, so that both lines go out on the one link the secure node answers.
    plain.send('one\ntwo')
    plain.end()
    expect(await plain.exited).toBe(4)
    expect(plain.stderr).toContain(
      `parley: gave up on 127.0.0.1:${port}: it is an encrypted parley node, which reads no plain text: it read none of the 2 line(s) written to it; run parley without --plain to talk to it`,
    )
    expect(plain.stderr).toContain('parley: 2 of 2 line(s) were not delivered: no peer read them (see above)')
    // It dialed once: no redial after the answer.
    expect(count(secure.stderr, /not speaking/)).toBe(1)
    expect(secure.stdout).toEqual([])

    // A long pipe: the secure node answers while lines still pour in, and its answer must not be lost to
    // a reset of the link, which a close with those lines unread would send.
    const long = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--wait', '60'])
    long.child.stdin.end(`${Array.from({ length: 20_000 }, (_, i) => `line ${i + 1}`).join('\n')}\n`)
    expect(await long.exited).toBe(4)
    expect(long.stderr).toContain(
      'parley: 20,000 of 20,000 line(s) were not delivered: no peer read them (see above)',
    )
  })

  it('a secure node dialing a plain node says it is not speaking the secure protocol, and the plain node says why', async () => {
    const plain = start(['--plain', '--listen', '127.0.0.1:0'])
    const plainPort = await listeningPort(plain)
    const secure = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--peer', `127.0.0.1:${plainPort}`])
    const dialer = await secure.waitFor('stderr', /--plain/)
    expect(dialer).toContain(`127.0.0.1:${plainPort}`)
    expect.soft(dialer).toContain(NOT_SECURE)
    const receiver = await plain.waitFor('stderr', /not sending plain text/)
    expect(receiver).toMatch(
      /peer at 127\.0\.0\.1:\d+ was dropped: it is not sending plain text \(is it a parley node running without --plain\?\)/,
    )
    // The handshake bytes are not printed as chat text.
    expect(plain.stdout).toEqual([])
    expect(isRunning(plain) && isRunning(secure)).toBe(true)
  })

  it('warns once per host, not on every binary handshake that host opens', async () => {
    const plain = start(['--plain', '--listen', '127.0.0.1:0'])
    const plainPort = await listeningPort(plain)
    const secure = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--peer', `127.0.0.1:${plainPort}`])
    await plain.waitFor('stderr', /not sending plain text/)
    await secure.waitFor('stderr', /--plain/)
    // More binary openings from the same host (a secure node gives up at once, so raw sockets stand in
    // for its redials): each is answered and dropped, and none may warn again.
    for (let i = 0; i < 3; i++) {
      const socket = connect(plainPort, '127.0.0.1')
      socket.on('error', () => undefined)
      const answer: Buffer[] = []
      socket.on('data', (chunk: Buffer) => answer.push(chunk))
      socket.write(Buffer.from([0x00, 0x20, 0x01, 0xff]))
      await new Promise((resolve) => socket.once('close', resolve))
      expect(Buffer.concat(answer).toString()).toMatch(/--plain/)
    }
    // A plain peer's link is reported on the same stream after any warning for those openings.
    const friend = connect(plainPort, '127.0.0.1')
    friend.on('error', () => undefined)
    defer(() => {
      friend.destroy()
    })
    await plain.waitFor('stderr', /connected to/)
    expect(count(plain.stderr, /not sending plain text/)).toBe(1)
    expect(count(secure.stderr, /--plain/)).toBe(1)
  })
})
