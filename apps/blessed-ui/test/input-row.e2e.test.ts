/** The input row of parley-tui scrolled sideways, end to end in tmux with the built binaries. */
import { expect, it, vi } from 'vitest'
import { describeInTmux, stage, until } from './harness.js'

// Real processes on a shared machine: a generous ceiling, only to catch hangs.
vi.setConfig({ testTimeout: 60_000 })
const { startTui } = stage()

/** A row as cells: a wide (CJK) character takes its cell and the one after it, left empty here. */
const cellsOf = (row: string) => [...row].flatMap((c) => (/[\u3000-\u9fff]/.test(c) ? [c, ''] : [c]))

describeInTmux('parley-tui input row', () => {
  it('shows the character under the cursor when the cursor moves right to the edge of the row', async () => {
    const tui = startTui(['--listen', '127.0.0.1:0', '--name', 'alice'], 30, 10)
    await tui.waitForScreen('the listening bar', (ls) => ls.at(-2)!.startsWith(' listening '))
    const draft = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ'
    tui.type(draft)
    await tui.waitForScreen('the end of the draft', (ls) => ls.at(-1)!.endsWith('GHIJ'))
    tui.keys('C-a')
    await until('the cursor at the start', () => tui.cursor().x === 2, 20_000)
    // `> ` and 27 cells of the draft fit: the 28th character is under the cursor on the last column.
    for (let i = 0; i < 27; i++) tui.keys('Right')
    // Done moving: the cursor on the 28th character, or on the last column, where only the 27th right puts it.
    const { x, row } = await until(
      'the cursor on the 28th character',
      () => {
        const at = { x: tui.cursor().x, row: tui.screen().at(-1)! }
        return (at.row[at.x] === draft[27] || at.x === 29) && at
      },
      20_000,
    )
    expect(row[x], `"${row}" with the cursor at ${x}`).toBe(draft[27])

    // The same with wide characters: the one under the cursor is drawn whole.
    const wide = '日本語のテキストを入力してみるとどうなるでしょうか'
    tui.keys('C-e', 'C-u')
    tui.type(wide)
    await tui.waitForScreen('the end of the wide draft', (ls) => ls.at(-1)!.endsWith('うか'))
    tui.keys('C-a')
    await until('the cursor at the start of the wide draft', () => tui.cursor().x === 2, 20_000)
    for (let i = 0; i < 13; i++) tui.keys('Right')
    const at = await until(
      'the cursor on the 14th wide character',
      () => {
        const now = { x: tui.cursor().x, row: tui.screen().at(-1)! }
        return (cellsOf(now.row)[now.x] === wide[13] || now.x === 28) && now
      },
      20_000,
    )
    expect(cellsOf(at.row)[at.x], `"${at.row}" with the cursor at ${at.x}`).toBe(wide[13])
  })
})
