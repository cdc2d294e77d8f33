import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { TypedAhead } from './typed-ahead.js'

/** A terminal's input with a line editor's listeners on it; `ends` records what `TypedAhead` told. */
function terminalInput() {
  const input = new PassThrough()
  const editor: string[] = []
  const editorEnds: string[] = []
  input.on('data', (chunk: Buffer) => editor.push(chunk.toString()))
  input.on('end', () => editorEnds.push('end'))
  input.pause()
  const ends: boolean[] = []
  const ahead = new TypedAhead(input, (typed) => ends.push(typed))
  /** Lets the stream hand on what was written. */
  const settle = () => new Promise((resolve) => setImmediate(resolve))
  return { input, editor, editorEnds, ends, ahead, settle }
}

describe('what is typed while parley starts', () => {
  it('is read in place of the line editor, and given back to it with the input', async () => {
    const { input, editor, ends, ahead, settle } = terminalInput()
    input.write('first\nsecond\n')
    input.write('half')
    await settle()
    expect(editor).toEqual([])
    const { text, ended } = ahead.release()
    expect(text.toString()).toBe('first\nsecond\nhalf')
    expect(ended).toBe(false)
    expect(ends).toEqual([])
    expect(ahead.midLine()).toBe(true)
    expect(ahead.lines()).toBe(3)
    // The editor reads what comes next.
    input.resume()
    input.write('later\n')
    await settle()
    expect(editor).toEqual(['later\n'])
  })

  it('tells the end of the input (Ctrl-D read in the line mode), with whether something was typed', async () => {
    const { input, editorEnds, ends, ahead, settle } = terminalInput()
    input.write('sent\n')
    input.end()
    await settle()
    expect(ends).toEqual([true])
    // The editor is not told: what was typed still has to reach it first.
    expect(editorEnds).toEqual([])
    expect(ahead.release()).toEqual({ text: Buffer.from('sent\n'), ended: true })
  })

  it('says nothing was typed when only blank lines and paste marks came before the end', async () => {
    const { input, ends, settle } = terminalInput()
    input.write('\n  \n\x1b[200~\x1b[201~')
    input.end()
    await settle()
    expect(ends).toEqual([false])
  })

  it('reads a NUL on an empty line as the end (a Ctrl-D the terminal left after a change of its mode)', async () => {
    const { input, ends, ahead, settle } = terminalInput()
    input.write('first\n\x00')
    await settle()
    expect(ends).toEqual([true])
    expect(ahead.release()).toEqual({ text: Buffer.from('first\n'), ended: true })
  })

  it('reads a NUL that more typing follows as a key (Ctrl-Space), not the end: the line is taken without it', async () => {
    const { input, ends, ahead, settle } = terminalInput()
    input.write('\x00typed after Ctrl-Space\n')
    await settle()
    input.write('\x00\n')
    await settle()
    expect(ends).toEqual([])
    expect(ahead.release()).toEqual({ text: Buffer.from('typed after Ctrl-Space\n\n'), ended: false })
  })

  it('reads Ctrl-Space typed twice at the start of a line, before more typing, as keys', async () => {
    const { input, ends, ahead, settle } = terminalInput()
    input.write('\x00\x00typed after two\n')
    await settle()
    expect(ends).toEqual([])
    expect(ahead.release()).toEqual({ text: Buffer.from('typed after two\n'), ended: false })
  })

  it('reads a NUL after text as that text handed on, and a second one as the end', async () => {
    const { input, ends, ahead, settle } = terminalInput()
    input.write('half\x00')
    await settle()
    expect(ends).toEqual([])
    input.write('\x00')
    await settle()
    expect(ends).toEqual([true])
    expect(ahead.midLine()).toBe(true)
    expect(ahead.release()).toEqual({ text: Buffer.from('half'), ended: true })
  })

  it('reads two NULs after text in one read as the text handed on, then the end', async () => {
    const { input, ends, ahead, settle } = terminalInput()
    input.write('half\x00\x00')
    await settle()
    expect(ends).toEqual([true])
    expect(ahead.release()).toEqual({ text: Buffer.from('half'), ended: true })
  })

  it('tells an end with nothing typed as such', async () => {
    const { input, ends, ahead, settle } = terminalInput()
    input.write('\x00')
    await settle()
    expect(ends).toEqual([false])
    expect(ahead.midLine()).toBe(false)
  })
})
