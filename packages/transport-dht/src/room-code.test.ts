import { describe, expect, it } from 'vitest'
import { createRoomCode, openRoom, parseRoomCode } from './room-code.js'

describe('room codes', () => {
  it('are 28 characters in groups of four, and differ every time', () => {
    const code = createRoomCode()
    expect(code).toMatch(/^([0-9a-hjkmnp-tv-z]{4}-){6}[0-9a-hjkmnp-tv-z]{4}$/)
    expect(new Set(Array.from({ length: 50 }, createRoomCode)).size).toBe(50)
  })

  it('read back to the same secret however they are typed', () => {
    const code = createRoomCode()
    const secret = parseRoomCode(code)
    expect(secret.byteLength).toBe(16)
    expect(parseRoomCode(code.toUpperCase())).toEqual(secret)
    expect(parseRoomCode(code.replace(/-/g, ' '))).toEqual(secret)
    expect(parseRoomCode(code.replace(/-/g, ''))).toEqual(secret)
    expect(parseRoomCode(code.replace(/0/g, 'O').replace(/1/g, 'l'))).toEqual(secret)
    expect(openRoom(` ${code.toUpperCase()} `).code).toBe(code)
  })

  it('read back as pasted from mail or chat: in quotes or <…>, with a full stop after it, broken by zero-width spaces', () => {
    const code = createRoomCode()
    const secret = parseRoomCode(code)
    for (const pasted of [`"${code}"`, `'${code}'`, `<${code}>`, `\`${code}\``, `${code}.`, `(${code}).`])
      expect(parseRoomCode(pasted)).toEqual(secret)
    expect(parseRoomCode(code.replace('-', '-\u200b'))).toEqual(secret)
    // Inside the code, anything foreign is still refused.
    expect(() => parseRoomCode(code.replace('-', '.'))).toThrow(/is not a room code/)
  })

  it('catch a mistyped character by their checksum', () => {
    const code = createRoomCode()
    for (let i = 0; i < code.length; i++) {
      if (code[i] === '-') continue
      const typo = code.slice(0, i) + (code[i] === 'a' ? 'b' : 'a') + code.slice(i + 1)
      // A typo lands on another valid code one time in 1024; the checksum catches the rest.
      const caught = (() => {
        try {
          parseRoomCode(typo)
          return false
        } catch (error) {
          return (error as { code?: string }).code === 'BAD_ROOM_CODE'
        }
      })()
      if (!caught) expect(parseRoomCode(typo)).not.toEqual(parseRoomCode(code))
    }
    expect(() => parseRoomCode(`${code.slice(0, -1)}${code.endsWith('a') ? 'b' : 'a'}`)).toThrow(/checksum/)
  })

  it('reject the wrong length and foreign characters with a hint', () => {
    expect(() => parseRoomCode('abcd')).toThrow(/expected 28 characters.*parley room/)
    expect(() => parseRoomCode('u'.repeat(28))).toThrow(/"u" is not one of its characters/)
    expect(() => parseRoomCode('z'.repeat(28))).toThrow(/out of range/)
  })

  it('give each room its own topic and proof key, unrelated to each other', () => {
    const a = openRoom(createRoomCode())
    const b = openRoom(createRoomCode())
    expect(a.topic.byteLength).toBe(32)
    expect(a.topic.equals(b.topic)).toBe(false)
    expect(a.topic.equals(a.proofKey)).toBe(false)
    expect(openRoom(a.code).topic.equals(a.topic)).toBe(true)
  })
})
