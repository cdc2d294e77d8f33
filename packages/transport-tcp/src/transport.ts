import type { Transport } from '@parley/core'
import { formatAddress, parseAddress } from './address.js'
import { dial } from './dial.js'
import { type ListenerErrorHandler, TcpListener } from './listener.js'

export interface TcpTransportOptions {
  /** How long a dial may take when its caller gives no `timeoutMs`. Default 10 000 ms; `Infinity` waits for the OS. */
  dialTimeoutMs?: number
  /** Told about errors a listener hits after it is listening (they never throw). Default: ignored. */
  onListenerError?: ListenerErrorHandler
}

const DEFAULT_DIAL_TIMEOUT_MS = 10_000

/** TCP addresses are `HOST:PORT`, `[IPV6]:PORT` or `:PORT`; anything else (a bare key, say) is another transport's. */
export function isTcpAddress(text: string): boolean {
  return /:\d{1,5}\s*$/.test(text)
}

/**
 * A parley Transport over TCP (`node:net`), with TCP_NODELAY on every socket. Its addresses are
 * `HOST:PORT` strings (see `parseAddress`); an unreadable one rejects with an AddressError.
 * @example
 * const transport = createTcpTransport()
 * const link = await transport.dial('127.0.0.1:4001', { timeoutMs: 5000 })
 */
export function createTcpTransport(options: TcpTransportOptions = {}): Transport {
  const dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  return {
    createListener: (onLink) => {
      const listener = new TcpListener(onLink, options.onListenerError)
      return {
        listen: async (address) => formatAddress(await listener.listen(parseAddress(address))),
        close: () => listener.close(),
      }
    },
    dial: async (address, dialOptions = {}) => dial(parseAddress(address), dialOptions, dialTimeoutMs),
  }
}
