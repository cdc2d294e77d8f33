import { EventEmitter } from 'node:events'
import { createInterface } from 'node:readline'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { redrawInPlaceOnResize } from './prompt-resize.js'

/** A terminal's output, `columns` wide, that records what readline writes to it. */
function terminal(columns: number) {
  const out = Object.assign(new EventEmitter(), {
    isTTY: true,
    columns,
    rows: 24,
    written: '',
    write(chunk: string | Uint8Array) {
      out.written += chunk.toString()
      return true
    },
  })
  return out
}

/** How many rows readline moved the cursor up in `text` (CSI n A). */
const rowsUp = (text: string) =>
  [...text.matchAll(/\x1b\[(\d*)A/g)].reduce((n, m) => n + Number(m[1] || 1), 0)

function typedAt(columns: number, typed: string) {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined })
  const output = terminal(columns)
  const rl = createInterface({
    input,
    output: output as unknown as NodeJS.WritableStream,
    terminal: true,
    prompt: '> ',
  })
  redrawInPlaceOnResize(rl, output)
  rl.prompt()
  rl.write(typed)
  return { rl, output }
}

describe('the half-typed line when the terminal is resized', () => {
  it('is drawn again from no higher than its first row once the window is wider (the terminal joined its rows)', () => {
    // 102 columns of prompt and text: three rows at 40 columns, one at 120.
    const { rl, output } = typedAt(40, 'a'.repeat(100))
    output.written = ''
    output.columns = 120
    output.emit('resize')
    expect(rowsUp(output.written)).toBe(0)
    expect(output.written).toContain('a'.repeat(100))
    rl.close()
  })

  it('erases nothing above the line when the window is made narrower', () => {
    const { rl, output } = typedAt(120, 'a'.repeat(100))
    output.written = ''
    output.columns = 40
    output.emit('resize')
    expect(rowsUp(output.written)).toBe(0)
    rl.close()
  })

  it('goes back to its first row when a resize leaves it as many rows as before', () => {
    const { rl, output } = typedAt(40, 'a'.repeat(100))
    output.written = ''
    output.columns = 45
    output.emit('resize')
    expect(rowsUp(output.written)).toBe(2)
    rl.close()
  })
})
