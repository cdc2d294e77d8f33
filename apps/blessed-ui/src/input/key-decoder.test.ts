import { describe, expect, it } from 'vitest'
import { KeyDecoder, type KeyEvent } from './key-decoder.js'

const decode = (...chunks: string[]) => {
  const decoder = new KeyDecoder()
  const out: KeyEvent[] = []
  for (const chunk of chunks) out.push(...decoder.push(chunk))
  return out
}
const key = (name: string): KeyEvent => ({ type: 'key', name })

describe('key decoder', () => {
  it('groups typed text and names control keys', () => {
    expect(decode('hi 😀\r\x01\x05\x7f\t')).toEqual([
      { type: 'text', text: 'hi 😀' },
      key('enter'),
      key('C-a'),
      key('C-e'),
      key('backspace'),
      key('tab'),
    ])
  })

  it('reads arrows, paging, home/end, delete and modified arrows', () => {
    expect(decode('\x1b[A\x1b[B\x1bOC\x1b[D\x1b[5~\x1b[6~\x1b[H\x1b[4~\x1b[3~\x1b[1;5C\x1b[1;3D')).toEqual([
      key('up'),
      key('down'),
      key('right'),
      key('left'),
      key('pageup'),
      key('pagedown'),
      key('home'),
      key('end'),
      key('delete'),
      key('C-right'),
      key('M-left'),
    ])
  })

  it('reads F2 (the member panel) in both encodings, with modifiers', () => {
    expect(decode('\x1bOQ\x1b[Q\x1b[1;2Q')).toEqual([key('f2'), key('f2'), key('S-f2')])
  })

  it('reads meta keys as ESC + key', () => {
    expect(decode('\x1bb\x1bf\x1bd\x1b\x7f')).toEqual([
      key('M-b'),
      key('M-f'),
      key('M-d'),
      key('M-backspace'),
    ])
  })

  it('collects a bracketed paste into one event, even split across reads', () => {
    const whole = decode('\x1b[200~line1\r\nline2\x1b[201~x')
    expect(whole).toEqual([
      { type: 'paste', text: 'line1\r\nline2' },
      { type: 'text', text: 'x' },
    ])
    const split = decode('\x1b[20', '0~line1\nli', 'ne2\x1b[2', '01~')
    expect(split).toEqual([{ type: 'paste', text: 'line1\nline2' }])
  })

  it('keeps escape sequences inside a paste as text', () => {
    expect(decode('\x1b[200~a\x1b[Ab\x1b[201~')).toEqual([{ type: 'paste', text: 'a\x1b[Ab' }])
  })

  it('waits for the rest of a sequence split across reads', () => {
    expect(decode('\x1b', '[', 'A')).toEqual([key('up')])
  })

  it('turns a lone ESC into the Escape key on flush', () => {
    const decoder = new KeyDecoder()
    expect(decoder.push('\x1b')).toEqual([])
    expect(decoder.hasPending).toBe(true)
    expect(decoder.flush()).toEqual([key('escape')])
  })

  it('reads focus reports and the mouse wheel (SGR)', () => {
    expect(decode('\x1b[O\x1b[I\x1b[<64;10;5M\x1b[<65;10;5M\x1b[<0;3;3M\x1b[<0;3;3m')).toEqual([
      { type: 'focus', focused: false },
      { type: 'focus', focused: true },
      { type: 'wheel', direction: 'up' },
      { type: 'wheel', direction: 'down' },
    ])
  })
})
