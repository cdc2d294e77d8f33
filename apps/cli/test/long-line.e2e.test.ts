/**
 * A line longer than a message (10,000 characters) piped through parley arrives as one line: the sender
 * sends it in parts that say the line goes on (`more`), and the receiver writes them as one line.
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readFileSync,
  watch,
  writeFileSync,
} from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { freePort, PARLEY_BIN, type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'
import { HAS_TMUX, Terminal } from './terminal.js'

const { start, defer } = useBuiltParley()
// Several real processes per test on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 90_000 })

/** Minified JSON on one line of `length` characters, its numbers in order, so a part out of place shows. */
function jsonLine(length: number): string {
  let text = '{"n":['
  for (let i = 0; text.length < length - 2; i++) text += `${i},`
  return `${text.slice(0, length - 3)}0]}`
}

const FILE_LINES = [
  'before the long line',
  jsonLine(25_000),
  'between',
  'x'.repeat(10_000),
  'y'.repeat(10_001),
  '',
  'the last line',
]
const FILE = `${FILE_LINES.join('\n')}\n`

/** Everything the process writes to stdout, as written, and a wait for some text in it. */
function rawStdout(proc: Proc) {
  let out = ''
  const waiters: { text: string; resolve: () => void }[] = []
  proc.child.stdout.on('data', (chunk: string) => {
    out += chunk
    for (const w of [...waiters]) {
      if (!out.includes(w.text)) continue
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  })
  return {
    out: () => out,
    /** Resolves once stdout holds `text`; the test's timeout catches a hang. */
    holds: (text: string) =>
      out.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ text, resolve })),
  }
}

async function receiver(name: string, args: string[] = [], env?: NodeJS.ProcessEnv) {
  const proc = start(['--listen', '127.0.0.1:0', '--name', name, '--recv-only', ...args], env)
  // With --json, `listening` is an event on stdout; else a status line on stderr.
  const json = args.includes('--json')
  const line = await proc.waitFor(json ? 'stdout' : 'stderr', /listening/)
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1])
  return { proc, port, ...rawStdout(proc) }
}

/** Pipes FILE into a one-shot `parley --peer` named alice, which exits 0 once it is delivered. */
async function sendFile(port: number) {
  const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
  alice.child.stdin.end(FILE)
  expect(await alice.exited).toBe(0)
}

/** Ends a receiver once it has shown the file's last line, and gives all it wrote to stdout. */
async function outputOf(node: { proc: Proc } & ReturnType<typeof rawStdout>): Promise<string> {
  await node.holds('<alice> the last line\n')
  node.proc.kill('SIGTERM')
  await node.proc.exited
  return node.out()
}

/** The file as a receiver shows it: each line under alice's name, nothing added, nothing cut. */
const SHOWN = FILE_LINES.map((line) => `<alice> ${line}\n`).join('')

describe('a piped file with lines longer than a message', () => {
  it('reaches the receiver with every line whole: stdout holds the file byte for byte, each line under its sender', async () => {
    const env = { XDG_DATA_HOME: tempDir() }
    const bob = await receiver('bob', [], env)
    await sendFile(bob.port)
    const out = await outputOf(bob)
    expect(out).toBe(SHOWN)
    expect(out.replaceAll(/^<alice> /gm, '')).toBe(FILE)
    // Journaled with their mark: after a restart, the history shows the same lines whole.
    const again = await receiver('bob', ['--history', '100'], env)
    expect(await outputOf(again)).toBe(SHOWN)
    // The last 3 lines as shown: a line sent in parts counts once, and is shown from its start.
    const last = await receiver('bob', ['--history', '3'], env)
    expect(await outputOf(last)).toBe(
      SHOWN.split(/(?<=\n)/)
        .slice(-3)
        .join(''),
    )
    expect(last.proc.stderr.join('\n')).toContain('--- 3 message(s) of history above')
  })

  it('an action longer than a message shows as one action line, under its sender, with nothing added', async () => {
    const env = { XDG_DATA_HOME: tempDir() }
    const bob = await receiver('bob', [], env)
    const action = `waves ${'w'.repeat(15_000)}`
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${bob.port}`, '--name', 'alice'])
    alice.child.stdin.end(`/me ${action}\nthe last line\n`)
    expect(await alice.exited).toBe(0)
    const shown = `* alice ${action}\n<alice> the last line\n`
    expect(await outputOf(bob)).toBe(shown)
    const again = await receiver('bob', ['--history', '100'], env)
    expect(await outputOf(again)).toBe(shown)
    // Scripts get each part with the action's text: joined where a part says more, the action.
    // History is written before `listening`: read from the process's own record of stdout.
    const json = start(
      ['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only', '--history', '100', '--json'],
      env,
    )
    await json.waitFor('stdout', /"body":"the last line"/)
    json.kill('SIGTERM')
    await json.exited
    const parts = json.stdout
      .filter((line) => line.includes('"type":"history"'))
      .map((line) => JSON.parse(line) as { body: string; action?: true; more?: true })
    expect(parts.map((m) => [m.action ?? false, m.more ?? false])).toEqual([
      [true, true],
      [true, false],
      [false, false],
    ])
    expect(
      parts
        .slice(0, 2)
        .map((m) => m.body)
        .join(''),
    ).toBe(action)
  })

  it.skipIf(!HAS_TMUX)(
    'an action longer than a message shows each part as the action on a terminal, with no control character',
    async () => {
      const port = await freePort()
      const bob = new Terminal([
        '--listen',
        `127.0.0.1:${port}`,
        '--name',
        'bob',
        '--recv-only',
        '--data-dir',
        tempDir(),
      ])
      defer(() => bob.kill())
      await bob.seen('bob listening', (screen) => screen.some((line) => line.includes('listening')))
      const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
      alice.child.stdin.end(`/me waves ${'w'.repeat(10_000)} at the end\n`)
      expect(await alice.exited).toBe(0)
      const screen = await bob.seen('the last part', (lines) =>
        lines.some((line) => line.includes('at the end')),
      )
      // A terminal shows each part as a line of its own, the last one as the action it ends.
      expect(screen.find((line) => line.includes('at the end'))).toMatch(
        /^\[\d\d:\d\d:\d\d\] \* alice w+ at the end$/,
      )
      expect(screen.join('\n')).not.toContain('^A')
    },
  )

  it('with --plain, reaches a netcat-like peer byte for byte, the long lines unbroken', async () => {
    // A bare socket, as `nc -l` is: it keeps what comes and closes when the sender has finished.
    const received: Buffer[] = []
    const server = createServer((socket) => {
      socket.on('data', (chunk) => received.push(chunk))
      socket.on('end', () => socket.end())
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    defer(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as AddressInfo).port
    const alice = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`])
    alice.child.stdin.end(FILE)
    expect(await alice.exited).toBe(0)
    expect(Buffer.concat(received).toString('utf8')).toBe(FILE)
  })

  it('with --plain on both ends, a line longer than the receiver holds (--max-frame) arrives whole too', async () => {
    const bob = start(['--plain', '--listen', '127.0.0.1:0', '--recv-only', '--max-frame', '4096'])
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(await bob.waitFor('stderr', /listening/))?.[1])
    const out = rawStdout(bob)
    const long = jsonLine(50_000)
    const alice = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`])
    alice.child.stdin.end(`${long}\nthe last line\n`)
    expect(await alice.exited).toBe(0)
    await out.holds('the last line\n')
    bob.kill('SIGTERM')
    await bob.exited
    // Each line under the sender's address, the long one in one piece: nothing added, nothing cut.
    const lines = out.out().split('\n')
    expect(lines.map((line) => line.replace(/^<[^>]*> /, ''))).toEqual([long, 'the last line', ''])
    expect(bob.stderr.join('\n')).not.toMatch(/longer than/)
  })

  it('with --plain on both ends, --max-frame bounds a line in bytes: one of multibyte characters is taken in parts that fit it', async () => {
    const bob = start(['--plain', '--listen', '127.0.0.1:0', '--recv-only', '--max-frame', '1024', '--json'])
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(await bob.waitFor('stdout', /listening/))?.[1])
    const out = rawStdout(bob)
    // 1,000 characters of three bytes each (3,000 bytes), then 1,024 bytes of ASCII: the bound exactly.
    const euros = '€'.repeat(1000)
    const ascii = 'a'.repeat(1024)
    const alice = start(['--plain', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`])
    alice.child.stdin.end(`${euros}\n${ascii}\nthe last line\n`)
    expect(await alice.exited).toBe(0)
    await out.holds('"body":"the last line"')
    bob.kill('SIGTERM')
    await bob.exited
    const messages = out
      .out()
      .split('\n')
      .filter((line) => line.includes('"type":"message"'))
      .map((line) => JSON.parse(line) as { body: string; more?: true })
    expect(messages.map((m) => [Buffer.byteLength(m.body), m.more ?? false])).toEqual([
      [1023, true],
      [1023, true],
      [954, false],
      [1024, false],
      [13, false],
    ])
    let text = ''
    for (const m of messages) text += m.more ? m.body : `${m.body}\n`
    expect(text).toBe(`${euros}\n${ascii}\nthe last line\n`)
  })

  it('reaches a member behind a relay with every line whole too', async () => {
    const bob = await receiver('bob')
    // Carol dials only bob: alice's parts reach her relayed.
    const carol = start([
      '--listen',
      '127.0.0.1:0',
      '--name',
      'carol',
      '--recv-only',
      '--peer',
      `127.0.0.1:${bob.port}`,
    ])
    const carolOut = rawStdout(carol)
    await bob.proc.waitFor('stderr', /connected to carol/)
    await sendFile(bob.port)
    expect(await outputOf({ proc: carol, ...carolOut })).toBe(SHOWN)
    expect(await outputOf(bob)).toBe(SHOWN)
  })

  it('gives --json readers one message event per part, each but the last of a line with more: true', async () => {
    const bob = await receiver('bob', ['--json'])
    await sendFile(bob.port)
    await bob.holds('"body":"the last line"')
    const messages = bob
      .out()
      .split('\n')
      .filter((line) => line.includes('"type":"message"'))
      .map((line) => JSON.parse(line) as { body: string; more?: true })
    // Joined where a part says more, each other part ends a line: the file's lines.
    let text = ''
    for (const m of messages) text += m.more ? m.body : `${m.body}\n`
    expect(text).toBe(FILE)
    expect(messages.map((m) => [m.body.length, m.more ?? false])).toEqual([
      [20, false],
      [10_000, true],
      [10_000, true],
      [5_000, false],
      [7, false],
      [10_000, false],
      [10_000, true],
      [1, false],
      [0, false],
      [13, false],
    ])
  })
})

/** `parley ARGS >> FILE`, as a shell would start it: stdout a regular file, appended to. */
function appendingTo(file: string, args: string[], dataHome: string) {
  const command = [process.execPath, PARLEY_BIN, ...args].map((a) => `'${a}'`).join(' ')
  const child = spawn('sh', ['-c', `exec ${command} >> '${file}' 2>> '${file}.err' < /dev/null`], {
    stdio: 'ignore',
    env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: dataHome },
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return { child, exited }
}

/** Resolves once `file` holds `text`, looking again each time the file changes. */
function fileHolds(file: string, text: string): Promise<void> {
  const holds = () => existsSync(file) && readFileSync(file, 'utf8').includes(text)
  return new Promise((resolve) => {
    if (holds()) return resolve()
    const watcher = watch(file, () => {
      if (!holds()) return
      watcher.close()
      resolve()
    })
    // A write between the first look and the watch's start is seen here.
    if (holds()) {
      watcher.close()
      resolve()
    }
  })
}

describe('a receiver that stops while a line is open', () => {
  it('ends that line with a newline, so what it wrote ends its lines', async () => {
    const bob = await receiver('bob')
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${bob.port}`, '--name', 'alice'])
    // A line that has not ended: its first part goes, the rest is still being read.
    alice.child.stdin.write('p'.repeat(15_000))
    await bob.holds(`<alice> ${'p'.repeat(10_000)}`)
    bob.proc.kill('SIGTERM')
    await bob.proc.exited
    expect(bob.out()).toBe(`<alice> ${'p'.repeat(10_000)}\n`)
  })
})

describe('a receiver killed between two parts of a long line', () => {
  it('shows each part once, and starts its next run on a line of its own', async () => {
    const port = await freePort()
    const home = tempDir()
    const out = join(tempDir(), 'out.txt')
    const args = ['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--recv-only']
    writeFileSync(out, '')
    const first = appendingTo(out, args, home)
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    await alice.waitFor('stderr', /connected to bob/)
    // A line that has not ended: its first two parts go, and bob writes them, the line left open.
    alice.child.stdin.write('p'.repeat(25_000))
    await fileHolds(out, `<alice> ${'p'.repeat(20_000)}`)
    first.child.kill('SIGKILL')
    await first.exited
    appendingTo(out, args, home)
    alice.child.stdin.end('q\nnext\n')
    expect(await alice.exited).toBe(0)
    await fileHolds(out, '<alice> next\n')
    expect(readFileSync(out, 'utf8')).toBe(
      `<alice> ${'p'.repeat(20_000)}\n<alice> ${'p'.repeat(5_000)}q\n<alice> next\n`,
    )
  })
})

/**
 * `parley ARGS` with stdout on a pipe it shares with the runs before and after it, as a shell loop that
 * starts parley again (`while :; do parley …; done | reader`) has it: a named pipe, read by the test.
 */
function sharedPipe() {
  const path = join(tempDir(), 'out.fifo')
  execFileSync('mkfifo', [path])
  // Held open for writing too, so the reader sees no end between two runs.
  const held = openSync(path, 'r+')
  let out = ''
  const waiters: { text: string; resolve: () => void }[] = []
  const reader = createReadStream(path, { encoding: 'utf8' })
  reader.on('data', (chunk) => {
    out += chunk
    for (const w of [...waiters]) {
      if (!out.includes(w.text)) continue
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  })
  defer(() => {
    reader.destroy()
    closeSync(held)
  })
  const run = (args: string[], dataHome: string) => {
    const child = spawn(process.execPath, [PARLEY_BIN, ...args], {
      stdio: ['ignore', held, 'ignore'],
      env: { ...process.env, PARLEY_DEBUG: '', XDG_DATA_HOME: dataHome },
    })
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    defer(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    })
    return { child, exited }
  }
  const holds = (text: string) =>
    out.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve }))
  return { run, holds, out: () => out }
}

describe('a receiver on a pipe killed between two parts of a long line', () => {
  it('ends that line first when it runs again on the same pipe, so the rest is not glued to it', async () => {
    const port = await freePort()
    const home = tempDir()
    const args = ['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--recv-only']
    const pipe = sharedPipe()
    const first = pipe.run(args, home)
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    await alice.waitFor('stderr', /connected to bob/)
    // A line that has not ended: its first two parts go, and bob writes them, the line left open.
    alice.child.stdin.write('p'.repeat(25_000))
    await pipe.holds(`<alice> ${'p'.repeat(20_000)}`)
    // Killed once the part is marked as shown: a pipe cannot be read back, so one killed between its write
    // and its mark shows it again.
    await fileHolds(join(home, 'parley', 'shown'), ' 2\n')
    first.child.kill('SIGKILL')
    await first.exited
    const second = pipe.run(args, home)
    alice.child.stdin.end('q\nnext\n')
    expect(await alice.exited).toBe(0)
    await pipe.holds('<alice> next\n')
    second.child.kill('SIGTERM')
    await second.exited
    expect(pipe.out()).toBe(`<alice> ${'p'.repeat(20_000)}\n<alice> ${'p'.repeat(5_000)}q\n<alice> next\n`)
  })

  it('ends no line on another pipe: its reader holds none open', async () => {
    const port = await freePort()
    const home = tempDir()
    const args = ['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--recv-only']
    const first = sharedPipe()
    const run = first.run(args, home)
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    await alice.waitFor('stderr', /connected to bob/)
    alice.child.stdin.write('p'.repeat(15_000))
    await first.holds(`<alice> ${'p'.repeat(10_000)}`)
    await fileHolds(join(home, 'parley', 'shown'), ' 1\n')
    run.child.kill('SIGKILL')
    await run.exited
    const other = sharedPipe()
    const second = other.run(args, home)
    alice.child.stdin.end('q\n')
    expect(await alice.exited).toBe(0)
    await other.holds('q\n')
    second.child.kill('SIGTERM')
    await second.exited
    expect(other.out()).toBe(`<alice> ${'p'.repeat(5_000)}q\n`)
  })
})

describe('a sender killed between two parts of a long line', () => {
  it('ends that line when it next sends, so its next line does not run on in it', async () => {
    const bob = await receiver('bob')
    const home = tempDir()
    const alice = () =>
      start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${bob.port}`, '--name', 'alice'], {
        XDG_DATA_HOME: home,
      })
    const first = alice()
    await first.waitFor('stderr', /connected to bob/)
    // A line that has not ended: its first two parts reach bob, the line open there.
    first.child.stdin.write('p'.repeat(25_000))
    await bob.holds(`<alice> ${'p'.repeat(20_000)}`)
    first.kill('SIGKILL')
    await first.exited
    const second = alice()
    second.child.stdin.end('next\n')
    expect(await second.exited).toBe(0)
    await bob.holds('next\n')
    bob.proc.kill('SIGTERM')
    await bob.proc.exited
    expect(bob.out()).toBe(`<alice> ${'p'.repeat(20_000)}\n<alice> next\n`)
  })
})
