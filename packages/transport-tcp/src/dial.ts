import { connect } from 'node:net'
import type { DialOptions, Link, TransportError } from '@parley/core'
import { type TcpAddress as Address, formatAddress } from './address.js'
import { abortedError, dialError, timeoutError } from './errors.js'
import { TcpLink } from './link.js'

/** setTimeout fires at once for delays it cannot represent, so longer ones mean "no timeout". */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Connects to `address`; rejects with a TransportError, ABORTED on `signal` and TIMEOUT after `timeoutMs`. */
export function dial(address: Address, options: DialOptions, defaultTimeoutMs: number): Promise<Link> {
  const { signal } = options
  if (signal?.aborted) return Promise.reject(abortedError(address, signal.reason))
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port })
    let settled = false
    const settle = (error?: TransportError) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (error) {
        socket.destroy()
        return reject(error)
      }
      // The link adds its own error listener before ours goes, so the socket is never without one.
      resolve(new TcpLink(socket, 'outbound', formatAddress(address)))
      socket.off('error', onError)
    }
    const onError = (error: Error) => settle(dialError(error, address))
    const onAbort = () => settle(abortedError(address, signal?.reason))
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
    const timer = startTimer(timeoutMs, () => settle(timeoutError(address, timeoutMs)))
    socket.on('error', onError)
    socket.once('connect', () => settle())
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function startTimer(delayMs: number, onTimeout: () => void): NodeJS.Timeout | undefined {
  if (!Number.isFinite(delayMs) || delayMs > MAX_TIMER_MS) return undefined
  return setTimeout(onTimeout, Math.max(0, delayMs))
}
