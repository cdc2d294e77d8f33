import { describe, expect, it } from 'vitest'
import { endpoint, plainHost } from './endpoint.js'

describe('socket endpoints', () => {
  it('shows an IPv4 peer of a dual-stack socket as plain IPv4', () => {
    expect(plainHost('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(endpoint('::FFFF:10.1.2.3', 4001)).toBe('10.1.2.3:4001')
  })

  it('leaves other IPv6 addresses alone and brackets them', () => {
    expect(plainHost('::ffff:abcd')).toBe('::ffff:abcd')
    expect(endpoint('::1', 4001)).toBe('[::1]:4001')
    expect(endpoint('fe80::1%eth0', 9)).toBe('[fe80::1%eth0]:9')
  })

  it('formats IPv4 without brackets', () => {
    expect(endpoint('127.0.0.1', 4001)).toBe('127.0.0.1:4001')
  })

  it('has no endpoint for a socket that no longer knows its address', () => {
    expect(endpoint(undefined, undefined)).toBeUndefined()
    expect(endpoint('127.0.0.1', undefined)).toBeUndefined()
  })
})
