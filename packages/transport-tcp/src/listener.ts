import { createServer, type Server, type Socket } from 'node:net'
import { type Link, TransportError } from '@parley/core'
import { type TcpAddress as Address, formatAddress } from './address.js'
import { plainHost } from './endpoint.js'
import { listenError } from './errors.js'
import { TcpLink } from './link.js'

type ListenerState =
  | { status: 'idle' }
  | { status: 'binding'; server: Server; fail: (error: TransportError) => void }
  | { status: 'listening'; server: Server; address: Address }
  | { status: 'closed' }

/** Called with errors a listener hits after it is listening, such as running out of file descriptors. */
export type ListenerErrorHandler = (error: TransportError) => void

/** A `Listener` over one `net.Server`. A failed `listen` leaves it idle, so it can try another address. */
export class TcpListener {
  #state: ListenerState = { status: 'idle' }

  constructor(
    private readonly onLink: (link: Link) => void,
    private readonly onError: ListenerErrorHandler = () => {},
  ) {}

  listen(address: Address): Promise<Address> {
    const state = this.#state
    switch (state.status) {
      case 'idle':
        return this.#bind(address)
      case 'binding':
      case 'listening':
        return Promise.reject(
          new TransportError(
            'UNKNOWN',
            'this listener is already listening; create another one for a second address',
          ),
        )
      case 'closed':
        return Promise.reject(
          new TransportError('CLOSED', 'this listener is closed; create a new one to listen again'),
        )
      default: {
        const _exhaustive: never = state
        return _exhaustive
      }
    }
  }

  close(): Promise<void> {
    const state = this.#state
    this.#state = { status: 'closed' }
    if (state.status === 'binding') {
      state.fail(new TransportError('CLOSED', 'the listener was closed before it finished binding'))
    }
    // Closing the server releases the port at once; accepted sockets are separate and stay open.
    if (state.status === 'binding' || state.status === 'listening') state.server.close(() => {})
    return Promise.resolve()
  }

  #bind(address: Address): Promise<Address> {
    return new Promise((resolve, reject) => {
      const server = createServer({ pauseOnConnect: true })
      this.#state = { status: 'binding', server, fail: reject }
      server.on('connection', (socket: Socket) => this.onLink(new TcpLink(socket, 'inbound')))
      server.on('error', (error) => this.#onServerError(server, address, error))
      server.once('listening', () => this.#onListening(server, resolve))
      server.listen({ host: address.host, port: address.port })
    })
  }

  #onListening(server: Server, resolve: (address: Address) => void): void {
    const state = this.#state
    // A server closed while binding must not bring a closed listener back to life.
    if (state.status !== 'binding' || state.server !== server) {
      server.close(() => {})
      return
    }
    const address = boundAddress(server)
    this.#state = { status: 'listening', server, address }
    resolve(address)
  }

  #onServerError(server: Server, address: Address, error: Error): void {
    const state = this.#state
    if (state.status === 'binding' && state.server === server) {
      this.#state = { status: 'idle' }
      server.close(() => {})
      state.fail(listenError(error, address))
      return
    }
    const where = formatAddress(address)
    this.onError(new TransportError('UNKNOWN', `listener on ${where}: ${error.message}`, { cause: error }))
  }
}

function boundAddress(server: Server): Address {
  const info = server.address()
  if (info === null || typeof info === 'string')
    throw new TransportError('UNKNOWN', 'the server is not bound to a TCP port')
  return { host: plainHost(info.address), port: info.port }
}
