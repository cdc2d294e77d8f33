/** parley-tui in a terminal too narrow for its status bar, end to end in tmux with the built binaries. */
import { freePort } from '@parley/testkit'
import { expect, it, vi } from 'vitest'
import { describeInTmux, stage } from './harness.js'

// Real processes on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })
const { startTui } = stage()

describeInTmux('parley-tui in a narrow terminal', () => {
  it('keeps the undelivered count on the status bar when it shrinks, cutting your own address instead', async () => {
    // Below the ephemeral range: no node of another test, listening on port 0, can be given it meanwhile.
    const nobody = await freePort()
    const tui = startTui(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${nobody}`, '--name', 'alice'])
    await tui.waitForScreen('the dialing line', (lines) => lines.some((l) => l.includes('-- dialing')))
    tui.type('for later')
    tui.keys('Enter')
    await tui.waitForScreen('one undelivered', (lines) => lines.at(-2)!.includes('│ 1 undelivered'))
    tui.resize(50, 12)
    const lines = await tui.waitForScreen(
      'the bar cut to 50 columns, the count whole',
      (ls) => ls.length === 12 && ls.at(-2)!.trimEnd().endsWith('… │ 1 undelivered'),
      // Under the test's own ceiling, so that a failure shows the screen.
      30_000,
    )
    expect(lines.at(-2)).toMatch(
      new RegExp(`^ dialing {2}127\\.0\\.0\\.1:${nobody} │ a\\S*… │ 1 undelivered`),
    )
    expect(lines.at(-1)).toBe('>')
  })
})
