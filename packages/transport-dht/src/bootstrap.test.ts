import { describe, expect, it } from 'vitest'
import { chooseBootstrap, formatBootstrap, parseBootstrap, privateOnly } from './bootstrap.js'

describe('--bootstrap lists', () => {
  it('parse one or more HOST:PORT, ignoring spaces and empty entries', () => {
    expect(parseBootstrap('198.51.100.10:49737')).toEqual([{ host: '198.51.100.10', port: 49737 }])
    expect(parseBootstrap(' a.example:1 , b.example:65535,')).toEqual([
      { host: 'a.example', port: 1 },
      { host: 'b.example', port: 65535 },
    ])
    expect(formatBootstrap(parseBootstrap('h:1,k:2'))).toBe('h:1,k:2')
  })

  it.each(['', ',', 'host', 'host:', ':49737', 'host:0', 'host:70000', 'host:12x', '[::1]:49737'])(
    'refuse %j with BAD_BOOTSTRAP and an example',
    (text) => {
      expect(() => parseBootstrap(text)).toThrow(expect.objectContaining({ code: 'BAD_BOOTSTRAP' }))
      expect(() => parseBootstrap(text)).toThrow(/198\.51\.100\.10:49737/)
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

  it('reads the guard from the environment: any value but empty or 0 turns it on', () => {
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: '1' })).toBe(true)
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: 'yes' })).toBe(true)
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: '' })).toBe(false)
    expect(privateOnly({ PARLEY_DHT_PRIVATE_ONLY: '0' })).toBe(false)
    expect(privateOnly({})).toBe(false)
  })
})
