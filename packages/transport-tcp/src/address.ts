import { isIPv4 } from 'node:net'
import { AddressError } from '@parley/core'

/** Where a node listens or dials. `host` is a hostname, an IPv4 literal or a bare IPv6 literal (no brackets). */
export interface TcpAddress {
  readonly host: string
  readonly port: number
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
const IPV6 = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/

/**
 * Parses `HOST:PORT`, `[IPV6]:PORT` or `:PORT` (all interfaces is never implied: `:PORT` means 127.0.0.1).
 * @example parseAddress('[::1]:4001') // { host: '::1', port: 4001 }
 */
export function parseAddress(text: string): TcpAddress {
  const input = text.trim()
  let host: string
  let portText: string
  if (input.startsWith('[')) {
    const end = input.indexOf(']')
    if (end < 0 || input[end + 1] !== ':') throw bad(text, 'an IPv6 address is written [::1]:PORT')
    host = input.slice(1, end)
    portText = input.slice(end + 2)
    if (!IPV6.test(host) || !host.includes(':')) throw bad(text, `"${host}" is not an IPv6 address`)
  } else {
    const colon = input.lastIndexOf(':')
    if (colon < 0) throw bad(text, 'expected HOST:PORT, for example 127.0.0.1:4001')
    host = input.slice(0, colon)
    portText = input.slice(colon + 1)
    if (host.includes(':')) throw bad(text, 'write IPv6 addresses in brackets, for example [::1]:4001')
    if (host === '') host = '127.0.0.1'
    else if (!HOSTNAME.test(host)) throw bad(text, `"${host}" is not a valid host name or address`)
    // All digits and dots is meant as an IPv4 address (no top-level domain is numeric): judged as one here,
    // in its one dotted-decimal form. The resolver would read other forms its own way (`1.2.3` as 1.2.0.3,
    // `010.0.0.1` as octal, 8.0.0.1) and dial somewhere else, or look it up as a name.
    else if (/^[\d.]+$/.test(host) && !isIPv4(host))
      throw bad(text, `"${host}" is not an IPv4 address (four numbers 0-255, as 127.0.0.1)`)
  }
  if (!/^\d{1,5}$/.test(portText)) throw bad(text, `"${portText}" is not a port number (0-65535)`)
  const port = Number(portText)
  if (port > 65535) throw bad(text, `port ${port} is out of range (0-65535)`)
  return { host, port }
}

/** Formats an address for people and for `parseAddress`: IPv6 hosts get brackets. */
export function formatAddress(address: TcpAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

function bad(text: string, why: string): AddressError {
  return new AddressError(`bad address "${text}": ${why}`)
}

/** The host part of `HOST:PORT` or `[V6]:PORT`, as a link's remote address is written. */
export function hostOf(address: string): string {
  const colon = address.lastIndexOf(':')
  return (colon < 0 ? address : address.slice(0, colon)).replace(/^\[|\]$/g, '')
}

/** The address in its one written form (brackets for IPv6, `:PORT` read as 127.0.0.1), or an AddressError. */
export function normalizeAddress(text: string): string {
  return formatAddress(parseAddress(text))
}

/**
 * Whether `host` (as `parseAddress` gives it) names this machine only: 127.0.0.0/8, also as an
 * IPv4-mapped IPv6 address, `::1` in its short or full form, or `localhost`.
 * @example isLoopbackHost(parseAddress('[::1]:4001').host) // true
 */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase()
  const v4 = lower.startsWith('::ffff:') ? lower.slice('::ffff:'.length) : lower
  return lower === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(v4) || /^(0{1,4}:){7}0{0,3}1$|^::1$/.test(lower)
}
