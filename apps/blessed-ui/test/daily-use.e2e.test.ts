/**
 * Daily use in the full-screen app, end to end in tmux with the built binaries: quitting with undelivered
 * messages, actions both ways (an older TUI's raw CTCP body included), catch-up behind its rule, and flow
 * control summed up instead of narrated.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@parley/testkit'
import { expect, it, vi } from 'vitest'
import { CLI_BIN, describeInTmux, stage, type Tmux, until } from './harness.js'

// Several real processes per test on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })
const { cli, startTui, newTerminal } = stage()

describeInTmux('parley-tui daily use in a real terminal', () => {
  /** parley-tui dialing a port nobody answers, with one line typed that waits for it (`--wait` seconds). */
  async function oneUndelivered(wait: number): Promise<Tmux> {
    // Below the ephemeral range: no node of another test, listening on port 0, can be given it meanwhile.
    const nobody = await freePort()
    const dial = ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${nobody}`]
    const tui = startTui([...dial, '--name', 'alice', '--wait', String(wait)])
    await tui.waitForScreen('the dialing line', (lines) => lines.some((l) => l.includes('-- dialing')))
    tui.type('for later')
    tui.keys('Enter')
    await tui.waitForScreen('one undelivered', (lines) => lines.some((l) => l.includes('1 undelivered')))
    return tui
  }

  it('on Ctrl-C with undelivered messages, says on the terminal that they are safe in the outbox', async () => {
    const tui = await oneUndelivered(1)
    tui.keys('C-c')
    expect(await until('the exit code', () => tui.exitCode(), 20_000)).toBe(0)
    expect(tui.stderr()).toMatch(
      /^parley-tui: 1 message\(s\) not acknowledged yet are safe in the outbox \(.*\); they are sent when parley next runs with this --data-dir\n$/,
    )
  })

  it('with --plain, says a line typed while alone is held in memory only, and on leaving that it is lost', async () => {
    const tui = startTui(['--plain', '--listen', '127.0.0.1:0', '--name', 'alice', '--wait', '60'], 240)
    await tui.waitForScreen('the plain-mode note', (lines) => lines.some((l) => l.includes('PLAIN MODE')))
    tui.type('only in memory')
    tui.keys('Enter')
    await tui.waitForScreen('the note that it is held in memory only', (lines) =>
      lines.some((l) =>
        l.includes(
          '-- nobody is connected: this message is held in memory only (--plain keeps no outbox) and goes out when a peer connects; it is lost if parley exits first',
        ),
      ),
    )
    tui.keys('C-c')
    await tui.waitForScreen('the wait to quit', (lines) =>
      lines.some((l) => l.includes('-- waiting for a peer to take 1 message(s), up to 60s without progress')),
    )
    expect(tui.screen().join('\n')).not.toMatch(/safe in the outbox/)
    tui.keys('C-c')
    expect(await until('the exit code', () => tui.exitCode(), 20_000)).toBe(4)
    expect(tui.stderr()).toBe(
      'parley-tui: 1 message(s) were not delivered: no peer took them, and --plain keeps no outbox, so they are lost\n',
    )
  })

  it('sends nothing typed while it waits to quit: Ctrl-C again leaves with what waited before', async () => {
    const tui = await oneUndelivered(60)
    tui.keys('C-c')
    await tui.waitForScreen('the wait to quit', (lines) =>
      lines.some((l) => l.includes('what you type now is not sent')),
    )
    tui.type('echo rc=$?')
    tui.keys('Enter')
    tui.keys('C-c')
    expect(await until('the exit code', () => tui.exitCode(), 20_000)).toBe(0)
    expect(tui.stderr()).toMatch(/^parley-tui: 1 message\(s\) not acknowledged yet are safe in the outbox /)
  })

  it('on /quit, leaves at once when its only peer refused on its key, the message safe in the outbox', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    // Another node's key, pinned where bob answers: bob proves his own, and is refused.
    const other = mkdtempSync(join(tmpdir(), 'parley-other-'))
    const id = execFileSync(process.execPath, [CLI_BIN, 'id', '--data-dir', other], { encoding: 'utf8' })
    const otherKey = id.trim().split('\n').at(-1) as string
    rmSync(other, { recursive: true, force: true })
    // A wait far longer than the test may take: the refusal ends it, not the wait.
    const tui = startTui([
      ...['--listen', '127.0.0.1:0', '--name', 'alice', '--wait', '3600'],
      ...['--peer', `127.0.0.1:${port}`, '--peer-key', otherKey],
    ])
    await tui.waitForScreen('the refusal', (lines) => lines.some((l) => l.includes('gave up on')))
    tui.type('for later')
    tui.keys('Enter')
    await tui.waitForScreen('one undelivered', (lines) => lines.some((l) => l.includes('1 undelivered')))
    tui.type('/quit')
    tui.keys('Enter')
    expect(await until('the exit code', () => tui.exitCode(), 30_000)).toBe(0)
    expect(tui.stderr()).toMatch(
      /^parley-tui: 1 message\(s\) not acknowledged yet are safe in the outbox \(.*\); they are sent when parley next runs with this --data-dir\n$/,
    )
    expect(bob.events.filter((e) => e.type === 'message')).toEqual([])
  })

  it('sends /me as an action a CLI marks as one, and shows an older TUI action as an action too', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    const tui = startTui(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    await bob.waitForEvent('alice connecting', (e) => e.type === 'connected' && e.peer === 'alice')
    tui.type('/me waves')
    tui.keys('Enter')
    const action = await bob.waitForEvent('the action', (e) => e.type === 'message')
    expect(action).toMatchObject({ from: 'alice', body: 'waves', action: true })
    // What an older parley-tui sent for /me: the raw CTCP body.
    bob.send('\u0001ACTION shrugs\u0001')
    const screen = await tui.waitForScreen('the action from bob', (lines) =>
      lines.some((l) => l.includes('* bob shrugs')),
    )
    expect(screen.join('\n')).not.toContain('ACTION')
  })

  it('shows catch-up under a rule that counts it, in time order', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    const carol = cli('carol', ['--peer', `127.0.0.1:${port}`])
    await carol.waitForEvent('bob', (e) => e.type === 'connected')
    bob.send('first from bob')
    await carol.waitForEvent('the first line', (e) => e.type === 'message' && e.body === 'first from bob')
    carol.send('then carol')
    await bob.waitForEvent('carol', (e) => e.type === 'message' && e.body === 'then carol')
    bob.send('bob again')
    await carol.waitForEvent('the last line', (e) => e.type === 'message' && e.body === 'bob again')
    // Catch-up is what was sent before this node started, by more than the slack it allows for clocks
    // that disagree. Every process here reads one clock, so none is needed.
    const tui = startTui(
      ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'],
      120,
      40,
      {
        PARLEY_CLOCK_SLACK_MS: '0',
      },
    )
    const screen = await tui.waitForScreen('the catch-up', (lines) =>
      lines.some((l) => l.includes('bob again')),
    )
    // alice's first run: she joins, she was not away.
    const rule = screen.findIndex((l) => /3 messages from before you joined/.test(l))
    expect(rule).toBeGreaterThanOrEqual(0)
    const order = ['first from bob', 'then carol', 'bob again'].map((text) =>
      screen.findIndex((l) => l.includes(text)),
    )
    expect(order[0]).toBeGreaterThan(rule)
    expect(order).toEqual([...order].sort((a, b) => a - b))
  }, 60_000)

  it('sums flow control up in a line every few seconds instead of one per throttle', async () => {
    const bob = cli('bob', ['--rate', '2', '--burst', '1'])
    const port = await bob.port()
    const tui = startTui(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    await bob.waitForEvent('alice connecting', (e) => e.type === 'connected' && e.peer === 'alice')
    for (let i = 0; i < 20; i++) {
      tui.type(`m${i}`)
      tui.keys('Enter')
    }
    const screen = await tui.waitForScreen('the summary', (lines) =>
      lines.some((l) => l.includes('sending slower: bob is throttling you')),
    )
    // Not the old line per throttle notice.
    expect(screen.filter((l) => /\(you send faster than it accepts\)/.test(l))).toEqual([])
    await bob.waitForEvent('the last message', (e) => e.type === 'message' && e.body === 'm19', 60_000)
  }, 90_000)

  it('the line-mode CLI on a terminal: a typo is a hint, not a message, and Ctrl-C leaves a clean line', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    const term = newTerminal()
    const command = [process.execPath, CLI_BIN, '--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`]
    const script = `env XDG_DATA_HOME='${term.dir}/cli' ${command.map((a) => `'${a}'`).join(' ')} --name alice; echo "exit=$?"; sleep 600`
    term.tmux('new-session', '-d', '-x', '120', '-y', '30', '-s', 'tui', script)
    await bob.waitForEvent('alice connecting', (e) => e.type === 'connected' && e.peer === 'alice')
    term.type('/hlep')
    term.keys('Enter')
    await term.waitForScreen('the hint', (lines) => lines.some((l) => l.includes('unknown command /hlep')))
    term.type('/me waves')
    term.keys('Enter')
    await bob.waitForEvent('the action', (e) => e.type === 'message' && e.action === true)
    expect(bob.events.filter((e) => e.type === 'message').map((e) => e.body)).toEqual(['waves'])
    const before = term.screen().filter((l) => l.trim() !== '').length
    term.keys('C-c')
    const screen = await term.waitForScreen('the exit', (lines) => lines.some((l) => l.startsWith('exit=')))
    expect(screen.find((l) => l.includes('exit='))).toBe('exit=0')
    const after = screen.filter((l) => l.trim() !== '').slice(before - 1)
    expect(after.filter((l) => /disconnected|reconnecting/.test(l))).toEqual([])
  }, 60_000)
})
