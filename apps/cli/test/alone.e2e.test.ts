/**
 * Typing on a terminal while every neighbour is down, with the built binary in tmux: one line says the
 * messages wait (line mode has no undelivered count to show), and they reach the neighbour once, in order,
 * when it is back. Also a switch given a value, worded as the other flag mistakes are.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, PARLEY_BIN, tempDir, useBuiltParley } from '@parley/testkit'
import { afterEach, describe, expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

const HAS_TMUX = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** One parley on a private tmux server; its exit code lands in a file. */
class Terminal {
  private readonly socket = `parley-alone-${process.pid}-${Math.random().toString(36).slice(2, 10)}`
  private readonly exitFile = join(tempDir('parley-alone-'), 'exit-code')

  constructor(args: readonly string[]) {
    const quoted = [process.execPath, PARLEY_BIN, ...args].map((a) => `'${a}'`).join(' ')
    this.tmux(
      'new-session',
      '-d',
      '-x',
      '200',
      '-y',
      '40',
      '-s',
      'cli',
      `${quoted}; echo $? > ${this.exitFile}; sleep 600`,
    )
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
  }

  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'cli').replace(/\n+$/, '').split('\n')
  }

  line(text: string): void {
    this.tmux('send-keys', '-t', 'cli', '-l', text)
    this.tmux('send-keys', '-t', 'cli', 'Enter')
  }

  exitCode(): number | undefined {
    if (!existsSync(this.exitFile)) return undefined
    const text = readFileSync(this.exitFile, 'utf8').trim()
    return text === '' ? undefined : Number(text)
  }

  async until(what: string, probe: (screen: string[]) => boolean): Promise<string[]> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const screen = this.screen()
      if (probe(screen)) return screen
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; screen:\n${screen.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  kill(): void {
    try {
      this.tmux('kill-server')
    } catch {
      // Already gone.
    }
  }
}

const terminals: Terminal[] = []
afterEach(() => {
  for (const t of terminals.splice(0)) t.kill()
})

const ALONE = /^parley: nobody is connected: /
const count = (lines: readonly string[], pattern: RegExp) => lines.filter((l) => pattern.test(l)).length

describe.skipIf(!HAS_TMUX)('typing while every neighbour is down', () => {
  it('says once that the lines wait, and they arrive once, in order, when the neighbour is back', async () => {
    const port = await freePort()
    const bobArgs = ['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', join(tempDir(), 'bob')]
    const bob = start(bobArgs)
    const alice = new Terminal([
      ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
      ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
    ])
    terminals.push(alice)
    await alice.until('the link', (s) => s.some((l) => l.includes('connected to bob')))
    alice.line('while bob is here')
    await bob.waitFor('stdout', /<alice> while bob is here$/)
    expect(count(alice.screen(), ALONE)).toBe(0)

    bob.kill('SIGKILL')
    await bob.exited
    await alice.until('the link down', (s) => s.some((l) => l.includes('disconnected from bob')))
    alice.line('first while away')
    const told = await alice.until('the note', (s) => s.some((l) => ALONE.test(l)))
    expect(told.find((l) => ALONE.test(l))).toBe(
      'parley: nobody is connected: this message waits in the outbox and goes out when a peer connects (said once; /peers lists the room)',
    )
    alice.line('second while away')
    await alice.until('the second line taken', (s) => s.some((l) => l.startsWith('> second while away')))

    const back = start(bobArgs)
    await back.waitFor('stdout', /<alice> second while away$/)
    expect(back.stdout.filter((l) => l.includes('while away'))).toEqual([
      '<alice> first while away',
      '<alice> second while away',
    ])
    expect(count(alice.screen(), ALONE)).toBe(1)
  })
})

describe('a switch given a value', () => {
  it('is refused in the words of the other flag mistakes, exit 2', async () => {
    const parley = start(['--json=yes', '--data-dir', tempDir()])
    expect(await parley.exited).toBe(2)
    expect(parley.stderr).toEqual([
      'parley: --json is a switch and takes no value: write --json alone (see --help)',
    ])
  })
})
