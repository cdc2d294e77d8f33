import HyperDHT from 'hyperdht'
import { describe, expect, it } from 'vitest'
import {
  bootstrapPeers,
  chooseBootstrap,
  formatBootstrap,
  PUBLIC_BOOTSTRAP_HOSTS,
  parseBootstrap,
  privateOnly,
} from './bootstrap.js'

describe('--bootstrap lists', () => {
  it('parse one or more HOST:PORT, ignoring spaces and empty entries', () => {
    expect(parseBootstrap('198.51.100.10:49737')).toEqual([{ host: '198.51.100.10', port: 49737 }])
    expect(parseBootstrap(' a.example:1 , b.example:65535,')).toEqual([
      { host: 'a.example', port: 1 },
      { host: 'b.example', port: 65535 },
    ])
    expect(formatBootstrap(parseBootstrap('h:1,k:2'))).toBe('h:1,k:2')
  })

  it.each(['', ',', 'host', 'host:', ':49737', 'host:0', 'host:70000', 'host:12x'])(
    'refuse %j with BAD_BOOTSTRAP and an example',
    (text) => {
      expect(() => parseBootstrap(text)).toThrow(expect.objectContaining({ code: 'BAD_BOOTSTRAP' }))
      expect(() => parseBootstrap(text)).toThrow(/198\.51\.100\.10:49737/)
    },
  )

  it.each([
    ['[::1]:49737', '127.0.0.1:49737'],
    ['[2001:db8::1]:49737', '198.51.100.10:49737'],
    ['2001:db8::1:49737', '198.51.100.10:49737'],
  ])(
    'refuse the IPv6 address %j, saying the DHT runs over IPv4 only, with %j as the example',
    (text, example) => {
      expect(() => parseBootstrap(text)).toThrow(expect.objectContaining({ code: 'BAD_BOOTSTRAP' }))
      expect(() => parseBootstrap(text)).toThrow(/is an IPv6 address, and the DHT runs over IPv4 only/)
      expect(() => parseBootstrap(text)).toThrow(example)
    },
  )
})

describe('choosing bootstrap nodes', () => {
  const given = [{ host: '127.0.0.1', port: 4000 }]

  it('uses the nodes the user gave, guard or not', () => {
    expect(chooseBootstrap(given, {})).toEqual(given)
    expect(chooseBootstrap(given, { PARLEY_DHT_PRIVATE_ONLY: '1' })).toEqual(given)
  })

  it('falls back to the public nodes only when none were given and the guard is off', () => {
    expect(chooseBootstrap(undefined, {})).toBeUndefined()
    expect(chooseBootstrap([], { PARLEY_DHT_PRIVATE_ONLY: '0' })).toBeUndefined()
  })

  it('refuses the public nodes loudly when the guard is on', () => {
    for (const none of [undefined, []]) {
      expect(() => chooseBootstrap(none, { PARLEY_DHT_PRIVATE_ONLY: '1' })).toThrow(
        expect.objectContaining({
          code: 'PUBLIC_BOOTSTRAP_REFUSED',
          message: expect.stringContaining('--bootstrap'),
        }),
      )
    }
  })

  it("refuses HyperDHT's public bootstrap nodes named by address or by name when the guard is on", () => {
    for (const text of [
      '88.99.3.86:49737',
      'NODE2.hyperdht.org:49737',
      '127.0.0.1:4000,node3.hyperdht.org.:1',
      '88.99.3.86@node1.hyperdht.org:49737',
      '127.0.0.1@node2.hyperdht.org:49737',
      '142.93.90.113@example.org:49737',
    ])
      expect(() => chooseBootstrap(parseBootstrap(text), { PARLEY_DHT_PRIVATE_ONLY: '1' })).toThrow(
        expect.objectContaining({
          code: 'PUBLIC_BOOTSTRAP_REFUSED',
          message: expect.stringContaining('parley bootstrap'),
        }),
      )
    expect(chooseBootstrap(parseBootstrap('88.99.3.86:49737'), {})).toEqual([
      { host: '88.99.3.86', port: 49737 },
    ])
  })

  it('lets a bootstrap node start a DHT alone or join others, but not the public one while the guard is on', () => {
    const guard = { PARLEY_DHT_PRIVATE_ONLY: '1' }
    expect(bootstrapPeers(undefined, guard)).toEqual([])
    expect(bootstrapPeers(given, guard)).toEqual(given)
    expect(() => bootstrapPeers(parseBootstrap('node1.hyperdht.org:49737'), guard)).toThrow(
      expect.objectContaining({ code: 'PUBLIC_BOOTSTRAP_REFUSED' }),
    )
  })

  it('knows every public bootstrap node of the HyperDHT installed, by address and by name', () => {
    const listed = (HyperDHT as unknown as { BOOTSTRAP: string[] }).BOOTSTRAP.flatMap((entry) =>
      entry.replace(/:\d+$/, '').split('@'),
    )
    expect([...PUBLIC_BOOTSTRAP_HOSTS].sort()).toEqual(listed.sort())
  })

  it('reads the guard from the environment: any value but empty or 0 turns it on', () => {
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: '1' })).toBe(true)
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: 'yes' })).toBe(true)
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: '' })).toBe(false)
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: '0' })).toBe(false)
    expect(privateOnly({})).toBe(false)
  })
})
