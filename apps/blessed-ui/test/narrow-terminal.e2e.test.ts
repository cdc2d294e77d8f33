/** parley-tui in a terminal too narrow for its status bar, end to end in tmux with the built binaries. */
import { readFileSync } from 'node:fs'
import { freePort } from '@parley/testkit'
import { expect, it, vi } from 'vitest'
import { describeInTmux, stage, type Tmux } from './harness.js'

// Real processes on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })
const { startTui } = stage()

/** parley-tui has drawn a whole frame since it saw the window become `cols` wide (its trace says). */
function redrawnAt(tui: Tmux, cols: number): boolean {
  const trace = readFileSync(tui.traceFile, 'utf8').split('\n')
  const resized = trace.findLastIndex((line) => line.includes(` resize ${cols}x`))
  return resized >= 0 && trace.slice(resized + 1).some((line) => line.includes(' render full '))
}

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

  it('drops your segment of the bar rather than leave │ … when your name starts with a wide emoji', async () => {
    const nobody = await freePort()
    const tui = startTui(
      ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${nobody}`, '--name', '👍🏽bob'],
      70,
      12,
    )
    await tui.waitForScreen('the dialing line', (lines) => lines.some((l) => l.includes('-- dialing')))
    tui.type('for later')
    tui.keys('Enter')
    await tui.waitForScreen('one undelivered', (lines) => lines.at(-2)!.includes('│ 1 undelivered'))
    // Every width where your segment is cut: somewhere the room is too small for `│ 👍🏽…`.
    const lone: string[] = []
    for (let cols = 60; cols >= 36; cols--) {
      tui.resize(cols, 12)
      const lines = await tui.waitForScreen(
        `the bar at ${cols} columns`,
        (ls) => redrawnAt(tui, cols) && ls.at(-2)!.trimEnd().endsWith('│ 1 undelivered'),
        30_000,
      )
      const bar = lines.at(-2)!.trimEnd()
      if (/│ …( |$)/.test(bar)) lone.push(`${cols}: "${bar}"`)
    }
    expect(lone).toEqual([])
  })
})
