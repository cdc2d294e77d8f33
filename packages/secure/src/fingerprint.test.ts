import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyFormatError } from './errors.js'
import { fingerprint, parseKeyOrFingerprint } from './fingerprint.js'

const KEY = '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29'

describe('fingerprints', () => {
  it('shows a key as 14 groups of four base32 characters, and the first two as the short form', () => {
    const { full, short } = fingerprint(KEY)
    expect(full).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){13}$/)
    expect(short).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}$/)
    expect(full.startsWith(short)).toBe(true)
  })

  it('gives every key the fingerprint earlier releases gave it, so that pins written then still match', () => {
    expect(fingerprint(KEY).full).toBe(
      'hnvc-ppgo-w2sc-2yvd-vdic-u3yn-onst-eflx-dxre-hjr2-ybek-dc2z-3ius-prtz',
    )
    expect(fingerprint('00'.repeat(32)).full).toBe(
      'aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaao-p4lp',
    )
  })

  it('reads back the key from its full fingerprint, whatever the case, dashes or spaces', () => {
    const { full } = fingerprint(KEY)
    expect(parseKeyOrFingerprint(full)).toBe(KEY)
    expect(parseKeyOrFingerprint(full.toUpperCase())).toBe(KEY)
    expect(parseKeyOrFingerprint(` ${full.replaceAll('-', ' ')} `)).toBe(KEY)
    expect(parseKeyOrFingerprint(full.replaceAll('-', ''))).toBe(KEY)
  })

  it('accepts a 64-character hex key and returns it in lowercase', () => {
    expect(parseKeyOrFingerprint(KEY.toUpperCase())).toBe(KEY)
  })

  it('round-trips every key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const key = Buffer.from(bytes).toString('hex')
        expect(parseKeyOrFingerprint(fingerprint(key).full)).toBe(key)
      }),
    )
  })

  it('refuses a short fingerprint, since 40 bits cannot pin a key', () => {
    const attempt = () => parseKeyOrFingerprint(fingerprint(KEY).short)
    expect(attempt).toThrow(KeyFormatError)
    expect(attempt).toThrow(/short fingerprint.*full fingerprint/)
    expect(() => parseKeyOrFingerprint(fingerprint(KEY).short)).toThrowError(
      expect.objectContaining({ code: 'SHORT_FINGERPRINT' }),
    )
  })

  it('points an invite given where a key belongs to the fingerprint in it', () => {
    const { full } = fingerprint(KEY)
    for (const invite of [
      `parley://${full}`,
      `parley://127.0.0.1:4001/${full}`,
      `PARLEY://[::1]:4001/${full}`,
    ]) {
      expect(() => parseKeyOrFingerprint(invite)).toThrowError(
        expect.objectContaining({
          code: 'BAD_KEY',
          message: expect.stringMatching(
            new RegExp(`is an invite, not a key: give the fingerprint in it alone \\(${full}\\)$`),
          ),
        }),
      )
    }
  })

  it('catches a typo in a fingerprint by its checksum', () => {
    const { full } = fingerprint(KEY)
    const typo = (full[0] === 'a' ? 'b' : 'a') + full.slice(1)
    expect(() => parseKeyOrFingerprint(typo)).toThrowError(expect.objectContaining({ code: 'BAD_CHECKSUM' }))
  })

  it('refuses text that is neither a key nor a fingerprint', () => {
    for (const bad of ['', 'hello', KEY.slice(2), `${KEY}00`, 'zzzz-zzzz-1111']) {
      expect(() => parseKeyOrFingerprint(bad)).toThrowError(expect.objectContaining({ code: 'BAD_KEY' }))
    }
  })

  it('refuses to fingerprint something that is not a hex key', () => {
    expect(() => fingerprint('abc')).toThrow(KeyFormatError)
  })
})
