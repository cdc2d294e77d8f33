import { join } from 'node:path'
import { freePort, tempDir, useBuiltParley } from '@parley/testkit'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { HAS_TMUX, Terminal } from './terminal.js'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

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
    const alice = new Terminal(
      [
        ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`],
        ...['--name', 'alice', '--data-dir', join(tempDir(), 'alice')],
      ],
      200,
      40,
    )
    terminals.push(alice)
    await alice.seen('the link', (s) => s.some((l) => l.includes('connected to bob')))
    alice.line('while bob is here')
    await bob.waitFor('stdout', /<alice> while bob is here$/)
    expect(count(alice.screen(), ALONE)).toBe(0)

    bob.kill('SIGKILL')
    await bob.exited
    await alice.seen('the link down', (s) => s.some((l) => l.includes('disconnected from bob')))
    alice.line('first while away')
    const told = await alice.seen('the note', (s) => s.some((l) => ALONE.test(l)))
    // Bob's ack of the line before may have been lost with him: then it waits too, and is counted.
    expect(told.find((l) => ALONE.test(l))).toMatch(
      /^parley: nobody is connected: (this message waits in the outbox and goes|2 messages wait in the outbox and go) out when a peer connects \(said once; \/peers lists the room\)$/,
    )
    alice.line('second while away')
    await alice.seen('the second line taken', (s) => s.some((l) => l.startsWith('> second while away')))

    const back = start(bobArgs)
    await back.waitFor('stdout', /<alice> second while away$/)
    expect(back.stdout.filter((l) => l.includes('while away'))).toEqual([
      '<alice> first while away',
      '<alice> second while away',
    ])
    expect(count(alice.screen(), ALONE)).toBe(1)
  })

  it('says with --plain that the line is held in memory only, and that it is lost when parley exits first', async () => {
    // A plain node keeps no files: with no peer, the typed line is held by this process alone.
    const alice = new Terminal(['--plain', '--listen', '127.0.0.1:0', '--name', 'alice'], 300, 40)
    terminals.push(alice)
    await alice.seen('the prompt', (s) => s.some((l) => /^>( |$)/.test(l)))
    alice.line('only in memory')
    const told = await alice.seen('the note', (s) => s.some((l) => ALONE.test(l)))
    expect(told.find((l) => ALONE.test(l))).toBe(
      'parley: nobody is connected: this message is held in memory only (--plain keeps no outbox) and goes out when a peer connects; it is lost if parley exits first (said once; /peers lists the room)',
    )
    expect(told.join('\n')).not.toMatch(/waits in the outbox/)
    alice.keys('C-c')
    expect(await alice.until('the exit', () => alice.exitCode())).toBe(4)
    expect(alice.screen()).toContain(
      'parley: 1 of 1 message(s) were not delivered: no peer took them, and --plain keeps no outbox, so they are lost (is the peer running?)',
    )
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
