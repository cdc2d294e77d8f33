import { describe, expect, it } from 'vitest'
import { jsonLine } from './json-line.js'

describe('jsonLine', () => {
  // What a reader may split a line at besides \n (Python's splitlines), or a terminal may obey.
  const unsafe = /[\n\r\u000b\u000c\u001c-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

  it('escapes what a peer may write that a line reader splits at or a terminal obeys, and parses the same', () => {
    const body = 'a\u2028b\u2029c\u0085d\u202egnp.exe\u2066e\u2069\u007f\u009b31m\u001b[2J\nz'
    const line = jsonLine({ type: 'message', from: 'mal\u202elory', body })
    expect(line).not.toMatch(unsafe)
    expect(line).toContain('"a\\u2028b\\u2029c\\u0085d\\u202egnp.exe')
    expect(JSON.parse(line)).toEqual({ type: 'message', from: 'mal\u202elory', body })
  })

  it('escapes invisible characters and what a shell reads inside double quotes, and parses the same', () => {
    const value = { name: 'bo\u200bb\u2060\ufff9', note: '$(touch /tmp/x) `id`', tag: 'a\u{e0041}b' }
    const line = jsonLine(value)
    expect(line).toBe(
      '{"name":"bo\\u200bb\\u2060\\ufff9","note":"\\u0024(touch /tmp/x) \\u0060id\\u0060","tag":"a\\udb40\\udc41b"}',
    )
    expect(JSON.parse(line)).toEqual(value)
  })

  it('writes what JSON.stringify writes for text that holds none of them', () => {
    const value = { type: 'message', body: 'caf\u00e9 \u6f22 \ud83d\ude00 "q" \\ \t', seq: 1 }
    expect(jsonLine(value)).toBe(JSON.stringify(value))
  })
})
