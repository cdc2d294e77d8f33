import type { Transport } from '@parley/core'
import { dial } from './dial.js'
import { type ListenerErrorHandler, TcpListener } from './listener.js'

export interface TcpTransportOptions {
  /** How long a dial may take when its caller gives no `timeoutMs`. Default 10 000 ms; `Infinity` waits for the OS. */
  dialTimeoutMs?: number
  /** Told about errors a listener hits after it is listening (they never throw). Default: ignored. */
  onListenerError?: ListenerErrorHandler
}

const DEFAULT_DIAL_TIMEOUT_MS = 10_000

/**
 * A parley Transport over TCP (`node:net`), with TCP_NODELAY on every socket.
 * @example
 * const transport = createTcpTransport()
 * const link = await transport.dial({ host: '127.0.0.1', port: 4001 }, { timeoutMs: 5000 })
 */
export function createTcpTransport(options: TcpTransportOptions = {}): Transport {
  const dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  return {
    createListener: (onLink) => new TcpListener(onLink, options.onListenerError),
    dial: (address, dialOptions = {}) => dial(address, dialOptions, dialTimeoutMs),
  }
}
