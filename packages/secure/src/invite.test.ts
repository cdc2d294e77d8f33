import { describe, expect, it } from 'vitest'
import { InviteError } from './errors.js'
import { fingerprint } from './fingerprint.js'
import { decodeInvite, encodeInvite, encodeKeyInvite } from './invite.js'

const KEY = '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29'

describe('invites', () => {
  it('has a key-only form that decodes to the key-only address with the key pinned', () => {
    const code = encodeKeyInvite(KEY)
    expect(code).toBe(`parley://${fingerprint(KEY).full}`)
    expect(decodeInvite(code)).toEqual({ address: `dht:${KEY}`, key: KEY })
    expect(decodeInvite(`parley://${KEY.toUpperCase()}`)).toEqual({ address: `dht:${KEY}`, key: KEY })
    expect(() => decodeInvite(`parley://${fingerprint(KEY).full.slice(0, -1)}a`)).toThrow(/bad fingerprint/)
  })

  it('puts the address and the full fingerprint on one line', () => {
    const code = encodeInvite({ address: '192.0.2.7:4001', key: KEY })
    expect(code).toBe(`parley://192.0.2.7:4001/${fingerprint(KEY).full}`)
    expect(code).not.toMatch(/\s/)
  })

  it('decodes what it encodes, IPv6 and host names included', () => {
    for (const address of ['127.0.0.1:4001', '[::1]:4001', 'chat.example.org:9']) {
      expect(decodeInvite(encodeInvite({ address, key: KEY }))).toEqual({ address, key: KEY })
    }
  })

  it('tolerates surrounding whitespace and an upper-case scheme', () => {
    const code = encodeInvite({ address: '127.0.0.1:4001', key: KEY })
    expect(decodeInvite(`  ${code.replace('parley://', 'PARLEY://')}\n`).key).toBe(KEY)
  })

  it('reads an invite as mail and chat paste it: wrapped in <> or quotes, with a trailing slash or full stop, split by a zero-width space', () => {
    const code = encodeInvite({ address: '127.0.0.1:4001', key: KEY })
    const keyOnly = encodeKeyInvite(KEY)
    for (const pasted of [
      `<${code}>`,
      `"${code}"`,
      `${code}/`,
      `${code}.`,
      `(${code}).`,
      `${code.slice(0, 40)}\u200b${code.slice(40)}`,
      `\ufeff${code}`,
    ]) {
      expect(decodeInvite(pasted), pasted).toEqual({ address: '127.0.0.1:4001', key: KEY })
    }
    expect(decodeInvite(`<${keyOnly}/>`)).toEqual({ address: `dht:${KEY}`, key: KEY })
    expect(() => decodeInvite('parley://127.0.0.1:4001/')).toThrow(/incomplete/)
    expect(() => decodeInvite(`see ${code}`)).toThrow(/not a parley invite/)
  })

  it('refuses malformed codes with a reason', () => {
    const fp = fingerprint(KEY)
    const cases: Array<[string, RegExp]> = [
      ['hello', /not a parley invite/],
      ['parley://127.0.0.1:4001', /incomplete/],
      [`parley://127.0.0.1/${fp.full}`, /bad address/],
      [`parley://127.0.0.1:99999/${fp.full}`, /bad address/],
      ['parley://127.0.0.1:4001/abcd', /bad fingerprint/],
      [`parley://127.0.0.1:4001/${fp.short}`, /short fingerprint/],
      [`parley://127.0.0.1:4001/${fp.full.slice(0, -1)}a`, /bad fingerprint/],
    ]
    for (const [code, message] of cases) {
      expect(() => decodeInvite(code), code).toThrow(InviteError)
      expect(() => decodeInvite(code), code).toThrow(message)
    }
  })

  it('refuses to invite to a wildcard address or port 0, which nobody can dial', () => {
    expect(() => encodeInvite({ address: '0.0.0.0:4001', key: KEY })).toThrow(/every interface/)
    expect(() => encodeInvite({ address: '[::]:4001', key: KEY })).toThrow(/every interface/)
    expect(() => encodeInvite({ address: '127.0.0.1:0', key: KEY })).toThrow(/port 0/)
  })
})
