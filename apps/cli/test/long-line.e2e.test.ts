/**
 * A line longer than a message (10,000 characters) piped through parley arrives as one line: the sender
 * sends it in parts that say the line goes on (`more`), and the receiver writes them as one line.
 */
import { type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
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
