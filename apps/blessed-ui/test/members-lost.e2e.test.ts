/**
 * A member killed two hops away, in the full-screen app, end to end in tmux with the built binaries:
 * alice (the TUI) and carol each link to bob only; carol is killed (-9), so she says no goodbye. Bob's
 * notice that he lost her reaches alice, whose panel then shows carol as gone (`·`), and a CLI peer's
 * `--json` carries it as a `member-lost` event.
 */
import { expect, it, vi } from 'vitest'
import { describeInTmux, panelRow, stage } from './harness.js'

vi.setConfig({ testTimeout: 60_000 })
const { cli, startTui } = stage()

describeInTmux('parley-tui a member killed behind a neighbour', () => {
  it('tells that it may have left, and marks it gone in the panel', async () => {
    const bob = cli('bob')
    const bobAt = `127.0.0.1:${await bob.port()}`
    const carol = cli('carol', ['--peer', bobAt])
    const dave = cli('dave', ['--peer', bobAt])
    const tui = startTui(['--listen', '127.0.0.1:0', '--name', 'alice', '--peer', bobAt])
    await tui.waitForScreen('linked to bob', (lines) => lines.some((l) => l.includes('connected to bob')))
    tui.keys('F2')
    await tui.waitForScreen(
      'carol in the room, through bob',
      (lines) => panelRow(lines, 'carol')?.startsWith('~') === true,
    )
    await dave.waitForEvent('carol in the room', (e) => e.type === 'member' && e.peer === 'carol')
    carol.child.kill('SIGKILL')
    const lines = await tui.waitForScreen(
      'carol gone',
      (lines) => panelRow(lines, 'carol')?.startsWith('·') === true,
    )
    // The line may wrap beside the panel: its start says who and why.
    expect(lines.join('\n')).toMatch(
      /carol \[[a-z2-7]{4}-[a-z2-7]{4}\] may have left the room: bob \[[a-z2-7]{4}-[a-z2-7]{4}\] lost its link/,
    )
    const event = await dave.waitForEvent('carol lost', (e) => e.type === 'member-lost')
    expect(event).toMatchObject({ type: 'member-lost', peer: 'carol', by: 'bob' })
  })
})
