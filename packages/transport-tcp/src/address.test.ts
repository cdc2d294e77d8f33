import { AddressError } from '@parley/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type TcpAddress as Address, formatAddress, isLoopbackHost, parseAddress } from './address.js'

function refusal(text: string): AddressError {
  let caught: unknown
  try {
    parseAddress(text)
  } catch (error) {
    caught = error
  }
  expect(caught, `parseAddress(${JSON.stringify(text)}) should throw`).toBeInstanceOf(AddressError)
  return caught as AddressError
}

describe('parseAddress', () => {
  it.each<[string, Address]>([
    ['127.0.0.1:4001', { host: '127.0.0.1', port: 4001 }],
    ['[::1]:4001', { host: '::1', port: 4001 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    [':4001', { host: '127.0.0.1', port: 4001 }],
    ['chat.example.org:65535', { host: 'chat.example.org', port: 65535 }],
    ['[fe80::1%eth0]:4001', { host: 'fe80::1%eth0', port: 4001 }],
    ['  10.0.0.2:80  ', { host: '10.0.0.2', port: 80 }],
  ])('understands %j', (text, expected) => {
    expect(parseAddress(text)).toEqual(expected)
  })

  it('judges a host of digits and dots as an IPv4 address, not as a name to look up', () => {
    // Other forms the resolver would read its own way: 1.2.0.3, octal 8.0.0.1, 127.0.0.1.
    for (const host of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '1234.1.1.1', '4001', '010.0.0.1', '127.1']) {
      expect(refusal(`${host}:4001`).message).toBe(
        `bad address "${host}:4001": "${host}" is not an IPv4 address (four numbers 0-255, as 127.0.0.1)`,
      )
    }
    expect(parseAddress('255.255.255.255:1')).toEqual({ host: '255.255.255.255', port: 1 })
    expect(parseAddress('a1.2.3:1')).toEqual({ host: 'a1.2.3', port: 1 })
  })

  it('reads ":PORT" as loopback, never as every interface', () => {
    expect(parseAddress(':4001').host).toBe('127.0.0.1')
  })

  it.each([
    ['a bare port', '4001', /HOST:PORT/],
    ['a missing port', 'host:', /"" is not a port number/],
    ['a port above 65535', 'host:99999', /out of range/],
    ['an unbracketed IPv6 address', '::1:4001', /brackets/],
    ['a bracketed IPv6 address without a colon before the port', '[::1]4001', /\[::1\]:PORT/],
    ['an unclosed bracket', '[::1:4001', /\[::1\]:PORT/],
    ['brackets around something that is not IPv6', '[localhost]:4001', /not an IPv6 address/],
    ['a host with forbidden characters', 'bad_host!:1', /"bad_host!" is not a valid host/],
    ['an empty string', '', /HOST:PORT/],
    ['only spaces', '   ', /HOST:PORT/],
    ['a negative port', 'host:-1', /not a port number/],
    ['a port with letters', 'host:80a', /not a port number/],
    ['a six-digit port', 'host:000080', /not a port number/],
  ])('refuses %s with an AddressError that says what is wrong', (_, text, why) => {
    const error = refusal(text)
    expect(error.code).toBe('BAD_ADDRESS')
    expect(error.name).toBe('AddressError')
    expect(error.message).toContain(`"${text}"`)
    expect(error.message).toMatch(why)
  })
})

describe('formatAddress', () => {
  it.each<[Address, string]>([
    [{ host: '127.0.0.1', port: 4001 }, '127.0.0.1:4001'],
    [{ host: '::1', port: 4001 }, '[::1]:4001'],
    [{ host: 'localhost', port: 0 }, 'localhost:0'],
  ])('writes %j as %s', (address, text) => {
    expect(formatAddress(address)).toBe(text)
  })

  it('writes addresses that parseAddress reads back unchanged', () => {
    // A name of digits and dots alone is read as an IPv4 address: names here start with a letter.
    const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/)
    const host = fc.oneof(
      fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.')),
      fc.ipV4(),
      fc.ipV6(),
    )
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
        const address = { host: h, port }
        expect(parseAddress(formatAddress(address))).toEqual(address)
      }),
      { numRuns: 500 },
    )
  })
})

describe('isLoopbackHost', () => {
  it('knows this machine in every way a host can be written, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'LOCALHOST', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(true)
    for (const host of ['192.168.1.2', '10.0.0.1', '::2', 'fe80::1', '0.0.0.0', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(false)
    expect(isLoopbackHost(parseAddress('[::1]:4001').host)).toBe(true)
  })
})
