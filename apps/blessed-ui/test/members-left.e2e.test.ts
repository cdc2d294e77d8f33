/**
 * Neighbours going away, in the full-screen app, end to end in tmux with the built binaries: in the member
 * panel and /peers a neighbour that quit is shown as gone (`·`, `left at …`), one that was killed as a
 * link down (`○`); a line typed while nobody is connected is said once to wait.
 */
import { expect, it, vi } from 'vitest'
import { describeInTmux, panelRow, stage } from './harness.js'

vi.setConfig({ testTimeout: 60_000 })
const { cli, startTui } = stage()

describeInTmux('parley-tui members whose links went down', () => {
  it('marks a neighbour that quit as gone, and one that was killed as a link down', async () => {
    const bob = cli('bob')
    const carol = cli('carol')
    const ports = [await bob.port(), await carol.port()]
    const dials = ports.flatMap((port) => ['--peer', `127.0.0.1:${port}`])
    const tui = startTui(['--listen', '127.0.0.1:0', '--name', 'alice', ...dials])
    await tui.waitForScreen('both linked', (lines) =>
      ['connected to bob', 'connected to carol'].every((s) => lines.some((l) => l.includes(s))),
    )
    tui.keys('F2')
    await tui.waitForScreen('bob and carol connected in the panel', (lines) =>
      ['bob', 'carol'].every((name) => panelRow(lines, name)?.startsWith('●')),
    )

    // Bob takes another name: his label now carries his fingerprint, which the panel shows beside it once.
    bob.send('/nick bobby')
    bob.send('renamed')
    const renamed = await tui.waitForScreen(
      'bobby in the panel',
      (lines) => panelRow(lines, 'bobby') !== undefined,
    )
    expect(panelRow(renamed, 'bobby')).toMatch(/^● bobby [a-z2-7]{4}-[a-z2-7]{4}\s*$/)

    bob.send('/quit lunch')
    carol.child.kill('SIGKILL')
    const lines = await tui.waitForScreen('both links down', (lines) =>
      ['bobby', 'carol'].every((name) => panelRow(lines, name)?.startsWith('●') === false),
    )
    expect(panelRow(lines, 'bobby')).toMatch(/^· bobby /)
    expect(panelRow(lines, 'carol')).toMatch(/^○ carol /)

    tui.type('/peers')
    tui.keys('Enter')
    const listed = await tui.waitForScreen('the /peers answer', (lines) =>
      lines.some((l) => / -- bobby~[a-z2-7]{4}-[a-z2-7]{4} direct, /.test(l)),
    )
    expect(listed.join('\n')).toMatch(
      / -- bobby~[a-z2-7]{4}-[a-z2-7]{4} direct, left at \d\d:\d\d:\d\d \(lunch\)/,
    )
  })

  it('says once, as line mode does, that what is typed while nobody is connected waits', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    const tui = startTui(['--listen', '127.0.0.1:0', '--name', 'alice', '--peer', `127.0.0.1:${port}`])
    await tui.waitForScreen('linked', (lines) => lines.some((l) => l.includes('connected to bob')))
    tui.type('while bob is here')
    tui.keys('Enter')
    await bob.waitForEvent('the first line', (e) => e.type === 'message' && e.body === 'while bob is here')
    bob.child.kill('SIGKILL')
    await tui.waitForScreen('the link down', (lines) =>
      lines.some((l) => l.includes('disconnected from bob')),
    )
    tui.type('first while away')
    tui.keys('Enter')
    // Bob's ack of the line before may have been lost with him: then it waits too, and is counted.
    await tui.waitForScreen('the note', (lines) =>
      lines.some((l) => /-- nobody is connected: (this message waits|2 messages wait) in the outbox/.test(l)),
    )
    tui.type('second while away')
    tui.keys('Enter')
    const lines = await tui.waitForScreen('the second line', (lines) =>
      lines.some((l) => l.includes('<alice> second while away')),
    )
    expect(lines.filter((l) => l.includes('nobody is connected'))).toHaveLength(1)
  })
})
