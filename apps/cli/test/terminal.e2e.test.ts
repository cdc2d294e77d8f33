import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { newRoomCode } from '@parley/launcher'
import { freePort, listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HAS_TMUX, Terminal } from './terminal.js'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

/** A prompt line, as tmux shows it: `> ` and what is typed, its trailing blank trimmed. */
const isPrompt = (line: string) => /^>( |$)/.test(line)

const terminals: Terminal[] = []
afterEach(() => {
  for (const t of terminals.splice(0)) t.kill()
})

function terminal(
  args: readonly string[],
  cols?: number,
  rows?: number,
  stderrToFile = false,
  inShell: boolean | 'as a child' = false,
): Terminal {
  const t = new Terminal(args, cols, rows, stderrToFile, inShell)
  terminals.push(t)
  return t
}

describe.skipIf(!HAS_TMUX)('parley on a terminal', () => {
  /** Ctrl-Z at alice's half-typed line, `fg`, the rest of the line: it is read, whole. */
  async function stopAndContinue(inShell: true | 'as a child') {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await listeningPort(bob)
    const alice = terminal(
      [
        '--listen',
        '127.0.0.1:0',
        '--peer',
        `127.0.0.1:${port}`,
        '--name',
        'alice',
        '--data-dir',
        join(tempDir(), 'a'),
      ],
      80,
      24,
      false,
      inShell,
    )
    await alice.until('the link', () => alice.screen().some((l) => l.includes('connected to bob')))
    alice.type('half')
    alice.keys('C-z')
    await alice.seen('the shell saying the job stopped', (s) => s.some((l) => /^\[1\]\+ +Stopped/.test(l)))
    alice.line('fg')
    // The prompt drawn again below the shell's lines, with what was typed before the stop.
    await alice.seen('the prompt back', (s) => {
      const fg = s.indexOf('$ fg')
      return fg >= 0 && s.slice(fg + 1).includes('> half')
    })
    // The input is read again, before anything arrives (a message's redraw would resume it anyway).
    alice.line(' and whole')
    expect(await bob.waitFor('stdout', /and whole/)).toBe('<alice> half and whole')
    bob.send('welcome back')
    await alice.seen('the message after the stop', (s) => s.some((l) => l.includes('<bob> welcome back')))
  }

  it('stops as a shell job on Ctrl-Z, and after fg reads on from the half-typed line', async () => {
    await stopAndContinue(true)
  })

  it('stops the whole job when it runs as a child of it, as pnpm parley runs it, so the shell takes the terminal back', async () => {
    await stopAndContinue('as a child')
  })

  it('says why Ctrl-Z did not suspend where the shell does no job control, and reads on', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const port = await listeningPort(bob)
    // Wide enough for the line to stay on one row.
    const alice = terminal(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'], 120)
    await alice.until('the link', () => alice.screen().some((l) => l.includes('connected to bob')))
    alice.keys('C-z')
    await alice.seen('the line saying why', (s) =>
      s.some((l) =>
        l.includes(
          'parley: Ctrl-Z: parley was not suspended, as the shell that started it does no job control',
        ),
      ),
    )
    alice.line('still here')
    expect(await bob.waitFor('stdout', /still here/)).toBe('<alice> still here')
  })

  it('leaves on Ctrl-C as on SIGINT: what waits stays in the outbox, exit 0, no wait for acknowledgements', async () => {
    const port = await freePort()
    // A peer that never answers: what alice types waits in her outbox.
    const alice = terminal([
      ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
      ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
    ])
    await alice.until('the prompt', () => alice.screen().some(isPrompt))
    alice.type('kept for later')
    alice.keys('Enter')
    // Taken: the prompt is drawn again below it.
    await alice.until('the line taken', () => alice.screen().filter(isPrompt).length >= 2)
    alice.keys('C-c')
    const code = await alice.until('the exit', () => alice.exitCode())
    const screen = alice.screen().join('\n')
    expect(code).toBe(0)
    expect(screen).toMatch(/1 message\(s\) not acknowledged yet are safe in the outbox/)
    expect(screen).not.toMatch(/input ended; waiting/)
  })

  it('sends a pasted line that starts with / as a message, and runs the same line typed as a command', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--recv-only', '--data-dir', tempDir()])
    const port = await listeningPort(bob)
    const alice = terminal([
      ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
      ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
    ])
    await alice.until('the link', () => alice.screen().some((l) => l.includes('connected to bob')))
    // A log pasted whole: its lines go as they are, the one that reads as a command included.
    alice.paste('pasted first\n/quit\n/nick mallory\npasted last\n')
    await bob.waitFor('stdout', /<alice> pasted last$/)
    expect(bob.stdout).toEqual([
      '<alice> pasted first',
      '<alice> /quit',
      '<alice> /nick mallory',
      '<alice> pasted last',
    ])
    expect(alice.exitCode()).toBeUndefined()
    // Typed, it is the command.
    alice.type('/quit')
    alice.keys('Enter')
    expect(await alice.until('the exit', () => alice.exitCode())).toBe(0)
  })

  it('sends a line typed while it is still starting, once it can', async () => {
    // A room on a DHT of one loopback bootstrap node: joining it keeps the start going after the first
    // status lines, which is when a line typed early used to be read with nothing to take it.
    const bootstrapNode = start(['bootstrap', '--listen', '127.0.0.1:0'])
    const bootstrap = await bootstrapNode.waitFor('stdout', /^127\.0\.0\.1:\d+$/)
    const roomCode = start(['room'])
    expect(await roomCode.exited).toBe(0)
    const room = ['--room', roomCode.stdout.at(-1) ?? '', '--bootstrap', bootstrap]
    const bob = start([...room, '--name', 'bob', '--recv-only', '--data-dir', join(tempDir(), 'bob')])
    await bob.waitFor('stderr', /listening on the DHT/)
    // Typed before parley has even started: the keys wait in the terminal until it reads them.
    const alice = terminal([...room, '--name', 'alice', '--data-dir', join(tempDir(), 'alice')])
    alice.type('typed at once')
    alice.keys('Enter')
    await bob.waitFor('stdout', /<alice> typed at once$/)
    alice.type('typed later')
    alice.keys('Enter')
    await bob.waitFor('stdout', /<alice> typed later$/)
    expect(bob.stdout).toEqual(['<alice> typed at once', '<alice> typed later'])
  })

  // Ctrl-C quits; Ctrl-D with nothing typed ends the input, which with nothing to send stops the same way.
  it.each([
    ['C-c', 'Ctrl-C, as a quit'],
    ['C-d', 'Ctrl-D with nothing typed, as Ctrl-C stops it'],
  ])('stops on %s while it joins the DHT (%s): nothing sent, exit 0', async (key) => {
    // Nothing listens on 127.0.0.1:1: the join waits there until it gives up (exit 9) or is stopped.
    const alice = terminal(
      ['--bootstrap', '127.0.0.1:1', '--room', newRoomCode(), '--data-dir', join(tempDir(), 'alice')],
      120,
      24,
      false,
      true,
    )
    await alice.seen('the join', (s) => s.some((l) => l.includes('joining the DHT (bootstrap 127.0.0.1:1)')))
    alice.keys(key)
    await alice.seen('the stop', (s) =>
      s.some((l) => l.endsWith('stopped while joining the DHT; nothing was sent')),
    )
    expect(await alice.until('the exit code', () => alice.exitCode())).toBe(0)
  })

  it('ends the input on Ctrl-D while it joins the DHT, as at the prompt: the lines typed before it are sent, then it leaves', async () => {
    const bootstrapNode = start(['bootstrap', '--listen', '127.0.0.1:0'])
    const bootstrap = await bootstrapNode.waitFor('stdout', /^127\.0\.0\.1:\d+$/)
    const code = newRoomCode()
    const bob = start([
      ...['--room', code, '--bootstrap', bootstrap],
      ...['--name', 'bob', '--recv-only', '--data-dir', join(tempDir(), 'bob')],
    ])
    await bob.waitFor('stderr', /listening on the DHT/)
    // A first bootstrap node that never answers keeps the join going for seconds; the second one lets it
    // end.
    const alice = terminal(
      [
        ...['--room', code, '--bootstrap', `127.0.0.1:1,${bootstrap}`],
        ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
      ],
      120,
      24,
      false,
      true,
    )
    await alice.seen('the join', (s) => s.some((l) => l.includes('joining the DHT (bootstrap 127.0.0.1:1,')))
    alice.type('typed while joining')
    alice.keys('Enter')
    // A line left unfinished: the first Ctrl-D hands it on, the second ends the input.
    alice.type('and half')
    alice.keys('C-d')
    alice.keys('C-d')
    await alice.seen('the note', (s) =>
      s.some((l) =>
        l.startsWith(
          'parley: input ended while starting: the 2 line(s) typed are sent once it is done, then parley leaves',
        ),
      ),
    )
    await bob.waitFor('stdout', /<alice> and half$/)
    expect(bob.stdout).toEqual(['<alice> typed while joining', '<alice> and half'])
    expect(await alice.until('the exit code', () => alice.exitCode())).toBe(0)
    expect(alice.screen().join('\n')).toMatch(/all 2 message\(s\) delivered/)
  })

  it('takes Ctrl-Space typed while it joins the DHT as a key, not as Ctrl-D: the line after it is sent', async () => {
    const bootstrapNode = start(['bootstrap', '--listen', '127.0.0.1:0'])
    const bootstrap = await bootstrapNode.waitFor('stdout', /^127\.0\.0\.1:\d+$/)
    const code = newRoomCode()
    const bob = start([
      ...['--room', code, '--bootstrap', bootstrap],
      ...['--name', 'bob', '--recv-only', '--data-dir', join(tempDir(), 'bob')],
    ])
    await bob.waitFor('stderr', /listening on the DHT/)
    // A first bootstrap node that never answers keeps the join going for seconds.
    const alice = terminal([
      ...['--room', code, '--bootstrap', `127.0.0.1:1,${bootstrap}`],
      ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
    ])
    await alice.seen('the join', (s) => s.some((l) => l.includes('joining the DHT (bootstrap 127.0.0.1:1,')))
    alice.keys('C-Space')
    alice.line('after Ctrl-Space')
    // Read as Ctrl-D, it stopped the start and lost the line: the wait ends on either.
    const outcome = await alice.until('the line at bob, or alice gone', () =>
      bob.stdout.includes('<alice> after Ctrl-Space') ? 'sent' : alice.exitCode() !== undefined && 'exited',
    )
    expect(outcome).toBe('sent')
    alice.line('and later')
    await bob.waitFor('stdout', /<alice> and later$/)
    expect(bob.stdout).toEqual(['<alice> after Ctrl-Space', '<alice> and later'])
    expect(alice.exitCode()).toBeUndefined()
  })

  it('with --recv-only, says at once that what is typed is not sent, and still shows what arrives', async () => {
    const bob = terminal([
      '--listen',
      '127.0.0.1:0',
      '--recv-only',
      '--name',
      'bob',
      '--data-dir',
      join(tempDir(), 'bob'),
    ])
    const said = await bob.until('the notice', () =>
      bob.screen().find((line) => line.includes('receive only')),
    )
    expect(said).toBe('parley: receive only (--recv-only): typed lines are not sent; Ctrl-C quits')
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(bob.screen().join('\n'))?.[1] ?? Number.NaN)
    const alice = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    alice.send('hello bob')
    await bob.until('the message', () => bob.screen().some((line) => line.endsWith('<alice> hello bob')))
    bob.keys('C-c')
    expect(await bob.until('the exit', () => bob.exitCode())).toBe(0)
  })

  it('puts a message above a half-typed line that wraps, and draws the whole line again below it', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', join(tempDir(), 'bob')])
    const port = await listeningPort(bob)
    const alice = terminal(
      [
        ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
        ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
      ],
      60,
      20,
    )
    await alice.until('the link', () => alice.screen().some((l) => l.includes('connected to bob')))
    const typed = `${'a'.repeat(100)}${'b'.repeat(50)}`
    alice.type(typed)
    await alice.until('the typed line', () => alice.screen().join('').includes('b'.repeat(50)))
    bob.send('hello while you type')
    // The message is written, then the line drawn again: a capture may fall between the two, so the screen
    // is taken once the line is back below the message (never, if it is not: the wait fails).
    const screen = await alice.until('the message, and the line drawn again below it', () => {
      const lines = alice.screen()
      const at = lines.findIndex((l) => l.includes('<bob> hello while you type'))
      return at >= 0 &&
        lines
          .slice(at + 1)
          .join('')
          .includes('b'.repeat(50))
        ? lines
        : undefined
    })
    const at = screen.findIndex((l) => l.includes('<bob> hello while you type'))
    // Above the message: no piece of the half-typed line. Below it: the prompt and the whole line, wrapped.
    expect(screen.slice(0, at).some((l) => /a{10}|b{10}/.test(l))).toBe(false)
    expect(screen.slice(at + 1).join('')).toBe(`> ${typed}`)
  })

  it('keeps the messages above a half-typed line that wrapped when the terminal is made wider', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', join(tempDir(), 'bob')])
    const port = await listeningPort(bob)
    const alice = terminal(
      [
        ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
        ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
      ],
      40,
      20,
    )
    await alice.until('the link', () => alice.screen().some((l) => l.includes('connected to bob')))
    const typed = `${'a'.repeat(60)}${'b'.repeat(40)}`
    alice.type(typed)
    bob.send('first, above the line')
    bob.send('second, above the line')
    // Three rows of the line at 40 columns, drawn again below both messages.
    await alice.seen('the messages, the line drawn again below them', (s) => {
      const at = s.findIndex((l) => l.includes('second, above the line'))
      return at >= 0 && s.slice(at + 1).join('') === `> ${typed}`
    })
    // Wider: the terminal joins the line's rows into one (tmux reflows, as most terminals do), then parley
    // draws it again. A message shown after that shows the resize was taken in.
    alice.tmux('resize-window', '-t', 'cli', '-x', '120')
    bob.send('third, after the resize')
    const screen = await alice.seen('the message after the resize, the line below it', (s) => {
      const at = s.findIndex((l) => l.includes('third, after the resize'))
      return at >= 0 && s.slice(at + 1).join('') === `> ${typed}`
    })
    const text = screen.join('\n')
    expect(text).toContain('<bob> first, above the line')
    expect(text).toContain('<bob> second, above the line')
  })

  it('with --json, prints each event above the half-typed line as a whole JSON line, and draws the line again', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', join(tempDir(), 'bob')])
    const port = await listeningPort(bob)
    const alice = terminal(
      [
        ...['--json', '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
        ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
      ],
      200,
      20,
    )
    await alice.until('the link', () => alice.screen().some((l) => l.startsWith('{"type":"connected"')))
    alice.type('half typed')
    await alice.until('the typed line', () => alice.screen().some((l) => l === '> half typed'))
    bob.send('hello while you type')
    // As above: the screen is taken once the half-typed line is drawn again below the event.
    const screen = await alice.until('the message, and the line drawn again below it', () => {
      const lines = alice.screen()
      const at = lines.findIndex((l) => l.includes('"body":"hello while you type"'))
      return at >= 0 && lines.slice(at + 1).some((l) => l.includes('half typed')) ? lines : undefined
    })
    const at = screen.findIndex((l) => l.includes('"body":"hello while you type"'))
    expect(JSON.parse(screen[at]!)).toMatchObject({
      type: 'message',
      from: 'bob',
      body: 'hello while you type',
    })
    expect(screen.slice(at + 1)).toEqual(['> half typed'])
    alice.type(' and sent')
    alice.keys('Enter')
    await bob.waitFor('stdout', /<alice> half typed and sent$/)
  })

  it('leaves cleanly when its terminal is closed: bye to the peer, the data dir let go, no crash', async () => {
    const bob = start([
      '--listen',
      '127.0.0.1:0',
      '--name',
      'bob',
      '--recv-only',
      '--data-dir',
      join(tempDir(), 'bob'),
    ])
    const port = await listeningPort(bob)
    const aliceDir = join(tempDir(), 'alice')
    const alice = terminal(
      [
        ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
        ...['--name', 'alice', '--data-dir', aliceDir],
      ],
      80,
      24,
      true,
    )
    await bob.waitFor('stderr', /connected to alice/)
    // The window goes away: the terminal hangs up under parley.
    alice.kill()
    expect(await bob.waitFor('stderr', /disconnected from alice/)).toMatch(/alice left/)
    await alice.until('the data dir let go', () => !existsSync(join(aliceDir, 'lock')))
    const stderr = readFileSync(alice.stderrFile, 'utf8')
    expect(stderr).not.toMatch(/internal error|Assertion failed|Native stack/)
  })
})
