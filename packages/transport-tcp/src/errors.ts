import { TransportError, type TransportErrorCode } from '@parley/core'
import { type TcpAddress as Address, formatAddress } from './address.js'

const CODES: Readonly<Record<string, TransportErrorCode>> = {
  EADDRINUSE: 'ADDRESS_IN_USE',
  EADDRNOTAVAIL: 'ADDRESS_NOT_AVAILABLE',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  ENOTFOUND: 'HOST_NOT_FOUND',
  EAI_AGAIN: 'HOST_NOT_FOUND',
  EAI_NONAME: 'HOST_NOT_FOUND',
  ECONNREFUSED: 'CONNECTION_REFUSED',
  EHOSTUNREACH: 'UNREACHABLE',
  ENETUNREACH: 'UNREACHABLE',
  EHOSTDOWN: 'UNREACHABLE',
  ENETDOWN: 'UNREACHABLE',
  ECONNRESET: 'RESET',
  EPIPE: 'RESET',
  ECONNABORTED: 'RESET',
  ETIMEDOUT: 'TIMEOUT',
}

/** The `code` node puts on system errors (`ECONNREFUSED`), or undefined for anything else. */
export function systemCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** The TransportErrorCode for a node error; UNKNOWN when it has no mapping. */
export function transportCode(error: unknown): TransportErrorCode {
  return CODES[systemCode(error) ?? ''] ?? 'UNKNOWN'
}

/** Why binding `address` failed, in one sentence a user can act on. */
export function listenError(error: unknown, address: Address): TransportError {
  const code = transportCode(error)
  return new TransportError(code, listenMessage(code, error, address), { cause: error })
}

/** Why connecting to `address` failed, in one sentence a user can act on. */
export function dialError(error: unknown, address: Address): TransportError {
  const code = transportCode(error)
  return new TransportError(code, dialMessage(code, error, address), { cause: error })
}

/** Why an established connection broke. */
export function linkError(error: unknown): TransportError {
  const code = transportCode(error)
  return new TransportError(code, linkMessage(code, error), { cause: error })
}

export function abortedError(address: Address, reason: unknown): TransportError {
  return new TransportError('ABORTED', `connecting to ${formatAddress(address)} was cancelled`, {
    cause: reason,
  })
}

export function timeoutError(address: Address, ms: number): TransportError {
  return new TransportError(
    'TIMEOUT',
    `${formatAddress(address)} did not answer within ${ms} ms; check the address and that the other peer is running`,
  )
}

function listenMessage(code: TransportErrorCode, error: unknown, address: Address): string {
  const where = formatAddress(address)
  const anyPort = `--listen ${formatAddress({ host: address.host, port: 0 })}`
  switch (code) {
    case 'ADDRESS_IN_USE':
      return `${where} is already in use by another program; pick another port or use ${anyPort}`
    case 'ADDRESS_NOT_AVAILABLE':
      return `cannot listen on ${where}: no network interface on this machine has the address ${address.host}; use one it has, such as 127.0.0.1`
    case 'PERMISSION_DENIED':
      return `not allowed to listen on ${where}; ports below 1024 need administrator rights, so pick a port above 1024 or use ${anyPort}`
    case 'HOST_NOT_FOUND':
      return `cannot listen on ${where}: ${lookupProblem(error, address.host)}`
    default:
      if (systemCode(error) === 'EINVAL')
        return address.host.includes(':') && /^fe[89ab]/i.test(address.host) && !address.host.includes('%')
          ? `cannot listen on ${where}: a link-local IPv6 address needs its interface, as [${address.host}%eth0]:${address.port} (EINVAL)`
          : `cannot listen on ${where}: the system refuses that address (EINVAL); use an address of this machine's`
      return `cannot listen on ${where}: ${describe(error)}`
  }
}

function dialMessage(code: TransportErrorCode, error: unknown, address: Address): string {
  const where = formatAddress(address)
  switch (code) {
    case 'CONNECTION_REFUSED':
      return `nobody is listening at ${where}; check the address and that the other peer is running`
    case 'HOST_NOT_FOUND':
      return `cannot connect to ${where}: ${lookupProblem(error, address.host)}`
    case 'UNREACHABLE':
      return `${where} cannot be reached from this machine; check the address and your network connection`
    case 'TIMEOUT':
      return `${where} did not answer; check the address and that no firewall drops connections to that port`
    case 'RESET':
      return `${where} dropped the connection while it was being set up; check that it is a parley peer`
    case 'PERMISSION_DENIED':
      return `not allowed to connect to ${where}; a firewall or security policy on this machine blocks it`
    case 'ADDRESS_NOT_AVAILABLE':
      return `cannot connect to ${where}: this machine has no usable local address for it (too many open connections, or a network interface went away)`
    default:
      return `cannot connect to ${where}: ${describe(error)}`
  }
}

/**
 * Why an open link broke. The line that shows it names the peer already, and the link's remote address
 * is, for a peer that dialed in, only the passing port it dialed from: it is left out.
 */
function linkMessage(code: TransportErrorCode, error: unknown): string {
  switch (code) {
    case 'RESET':
      return 'the connection was reset by the other end'
    case 'TIMEOUT':
      return 'the connection timed out: the other end stopped answering'
    case 'UNREACHABLE':
      return 'the connection was lost: the network can no longer reach it'
    default:
      return `the connection failed: ${describe(error)}`
  }
}

function lookupProblem(error: unknown, host: string): string {
  return systemCode(error) === 'EAI_AGAIN'
    ? `could not look up "${host}" because the name server did not answer; check your network connection or use an IP address`
    : `there is no host named "${host}"; check the spelling or use an IP address`
}

function describe(error: unknown): string {
  // Node's happy-eyeballs dial fails with an AggregateError whose own message is empty.
  if (error instanceof AggregateError && error.message === '') return error.errors.map(describe).join('; ')
  return error instanceof Error ? error.message : String(error)
}
