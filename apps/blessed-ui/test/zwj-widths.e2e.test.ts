/**
 * ZWJ sequences that terminals draw in other widths than a family: tmux 3.3a draws 🏳️‍🌈 and ❤️‍🔥 in one cell,
 * 👩🏽‍💻 in four. End to end in tmux with the built binaries: what parley-tui draws must sit where tmux puts it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it, vi } from 'vitest'
import { describeInTmux, stage, type Tmux, until } from './harness.js'

// Real processes on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })
const { startTui, cli } = stage()

/** The cells tmux itself takes to draw `text` from the start of a row: printed in a window of its own. */
async function drawnCells(tui: Tmux, text: string): Promise<number> {
  const file = join(tui.dir, 'sample')
  writeFileSync(file, `${text}|`)
  tui.tmux('new-window', '-d', '-t', 'tui', '-n', 'measure', `cat '${file}'; sleep 600`)
  await until('the sample printed', () => tui.tmux('capture-pane', '-p', '-t', 'tui:measure').includes('|'))
  const [x, y, cols] = tui
    .tmux('display-message', '-p', '-t', 'tui:measure', '#{cursor_x} #{cursor_y} #{pane_width}')
    .trim()
    .split(' ')
    .map(Number)
  tui.tmux('kill-window', '-t', 'tui:measure')
  // The cursor is after the `|` that marks the end, on a row of its own when the text filled a row.
  return y! * cols! + x! - 1
}

/** parley-tui has drawn a whole frame since it saw the window become `cols` wide (its trace says). */
function redrawnAt(tui: Tmux, cols: number): boolean {
  const trace = readFileSync(tui.traceFile, 'utf8').split('\n')
  const resized = trace.findLastIndex((line) => line.includes(` resize ${cols}x`))
  return resized >= 0 && trace.slice(resized + 1).some((line) => line.includes(' render full '))
}

describeInTmux('parley-tui with ZWJ sequences', () => {
  it('draws 🏳️‍🌈 and ❤️‍🔥 where the terminal does: no cells left over in the input line, the cursor after them', async () => {
    const bob = cli('bob')
    const port = await bob.port()
    const tui = startTui(
      ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'],
      60,
      12,
    )
    await bob.waitForEvent('alice connecting', (e) => e.type === 'connected' && e.peer === 'alice')
    await tui.waitForScreen('the connected status bar', (ls) => ls.some((l) => l.startsWith(' connected ')))

    // A longer draft first: a cut too wide for the terminal leaves its last cells on the row.
    tui.type('abcdefghijklmnopqrstuvwxyz0123456789')
    await tui.waitForScreen('the long draft', (ls) => ls.at(-1) === '> abcdefghijklmnopqrstuvwxyz0123456789')
    tui.keys('C-u')
    await tui.waitForScreen('the draft deleted', (ls) => ls.at(-1) === '>')
    const draft = '🏳️‍🌈🏳️‍🌈❤️‍🔥xyz'
    tui.type(draft)
    const typed = await tui.waitForScreen('the typed flags', (ls) => ls.at(-1)!.endsWith('xyz'))
    expect(typed.at(-1)).toBe(`> ${draft}`)
    expect(tui.cursor().x).toBe(await drawnCells(tui, `> ${draft}`))
    tui.keys('Enter')
    const sent = await bob.waitForEvent('the flags', (e) => e.type === 'message')
    expect(sent.body).toBe(draft)

    // A peer's line: what follows each sequence stays in place, and so does the status bar under it.
    const body = '🏳️‍🌈 flag ❤️‍🔥 fire 👩🏽‍💻 coder end'
    bob.send(body)
    const shown = await tui.waitForScreen('the line from bob', (ls) => ls.some((l) => l.includes('<bob>')))
    expect(shown.find((l) => l.includes('<bob>'))).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d <bob> ${body}$`))
    expect(shown.at(-2)).toMatch(/^ connected {2}bob 127\.0\.0\.1:\d+ │ alice @ 127\.0\.0\.1:\d+$/)
  })

  it('keeps the status bar whole when your name holds one, as it shrinks', async () => {
    const tui = startTui(['--listen', '127.0.0.1:0', '--name', '🏳️‍🌈❤️‍🔥alice'], 70, 12)
    await tui.waitForScreen('the listening bar', (ls) => ls.at(-2)!.startsWith(' listening │ 🏳️‍🌈❤️‍🔥alice @'))
    const whole = /^ listening( │ 🏳️‍🌈❤️‍🔥alice @ 127\.0\.0\.1:\d+| │ \S.*…)?$/u
    for (const cols of [60, 44, 30, 26, 22, 70]) {
      tui.resize(cols, 12)
      // Whatever is cut, the bar is the state and whole segments or segments cut with `…`: a stale cell
      // left after it, where tmux drew less than parley-tui counted, never lets it match.
      await tui.waitForScreen(
        `the bar redrawn at ${cols} columns`,
        (ls) => redrawnAt(tui, cols) && ls.length === 12 && whole.test(ls.at(-2)!.trimEnd()),
        15_000,
      )
      // The bar's row with its trailing cells (the bar is padded in its colours): as many cells as the row.
      const bar = tui.tmux('capture-pane', '-p', '-N', '-t', 'tui').split('\n').at(-3)!
      expect(await drawnCells(tui, bar), `"${bar}" at ${cols}`).toBe(cols)
    }
  })
})
