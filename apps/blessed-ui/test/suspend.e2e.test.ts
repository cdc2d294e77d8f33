/** Ctrl-Z in parley-tui, end to end in tmux with the built binaries: a job stopped and continued by a shell. */
import { expect, it, vi } from 'vitest'
import { describeInTmux, stage, until } from './harness.js'

// Real processes on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })
const { startTui, startTuiInShell, cli } = stage()

describeInTmux('Ctrl-Z in parley-tui', () => {
  /** Ctrl-Z in a chat with bob, a message from him while stopped, `fg`, a line typed after. */
  async function stopAndContinue(asChild: boolean) {
    const bob = cli('bob')
    const port = await bob.port()
    const tui = startTuiInShell(
      ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'],
      120,
      40,
      asChild,
    )
    await tui.waitForScreen('linked', (lines) => lines.some((l) => l.includes('connected to bob')))
    tui.keys('C-z')
    // The shell's own screen, with its job line: the chat's status bar is gone from it.
    const shell = await tui.waitForScreen('the shell saying the job stopped', (lines) =>
      lines.some((l) => /^\[1\]\+ +Stopped/.test(l)),
    )
    expect(shell.some((l) => l.includes('connected to bob'))).toBe(false)
    // Said while alice is stopped: it waits in her socket until she is continued.
    bob.send('while you were away')
    tui.type('fg')
    tui.keys('Enter')
    await tui.waitForScreen('the message that came while stopped, in the chat again', (lines) =>
      lines.some((l) => l.includes('<bob> while you were away')),
    )
    // Keys reach the input line again: a line typed now is sent.
    tui.type('back again')
    tui.keys('Enter')
    await bob.waitForEvent('the line typed after fg', (e) => e.type === 'message' && e.body === 'back again')
  }

  it('gives the terminal back to the shell as a stopped job, and fg brings the chat back with what came meanwhile', async () => {
    await stopAndContinue(false)
  })

  it('stops the whole job when it runs as a child of it, as pnpm or npx run it, so the shell takes the terminal back', async () => {
    await stopAndContinue(true)
  })

  it('draws the chat for the new size when the window was resized while it was stopped', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    const tui = startTuiInShell(
      ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'],
      100,
      16,
    )
    await tui.waitForScreen('linked', (lines) => lines.some((l) => l.includes('connected to bob')))
    tui.type('half typed')
    await tui.waitForScreen('the draft', (lines) => lines.at(-1) === '> half typed')
    tui.keys('C-z')
    await tui.waitForScreen('the shell saying the job stopped', (lines) =>
      lines.some((l) => /^\[1\]\+ +Stopped/.test(l)),
    )
    // The SIGWINCH goes to the shell in the foreground, not to the stopped chat.
    tui.resize(50, 12)
    await until(
      'the window resized',
      () => tui.tmux('display-message', '-p', '-t', 'tui', '#{pane_width}').trim() === '50',
    )
    tui.type('fg')
    tui.keys('Enter')
    const lines = await tui.waitForScreen(
      'the chat back, with the draft',
      (ls) => ls.at(-1) === '> half typed',
      // Under the test's own ceiling, so that a failure shows the screen.
      30_000,
    )
    // Laid out for 50 columns: the status bar cut to fit, not the end of a 100-column bar wrapped onto the
    // input row; each message row a line of its own, its continuation rows indented under the text.
    expect(lines).toHaveLength(12)
    expect(lines.at(-2)).toMatch(/^ connected {2}bob 127\.0\.0\.1:\d+ │ .*…\s*$/)
    const messages = lines.slice(0, -2).filter((l) => l.trim() !== '')
    expect(messages.length).toBeGreaterThan(2)
    for (const row of messages) expect(row, lines.join('\n')).toMatch(/^(\d\d:\d\d:\d\d -- | {4,}\S)/)
    expect(lines.some((l) => l.includes('connected to bob'))).toBe(true)
  })

  it('says why it was not suspended where the shell does no job control, and goes on', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    // A command tmux runs itself: its process group is orphaned, and the kernel drops a stop there.
    const tui = startTui(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'])
    await tui.waitForScreen('linked', (lines) => lines.some((l) => l.includes('connected to bob')))
    tui.keys('C-z')
    await tui.waitForScreen('the line saying why', (lines) =>
      lines.some((l) =>
        l.includes('Ctrl-Z: parley-tui was not suspended, as the shell that started it does no job control'),
      ),
    )
    tui.type('still here')
    tui.keys('Enter')
    await bob.waitForEvent(
      'the line typed after Ctrl-Z',
      (e) => e.type === 'message' && e.body === 'still here',
    )
  })
})
