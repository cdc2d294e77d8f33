import { Server } from 'node:net'
import { TransportError } from '@parley/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTcpTransport, formatAddress, parseAddress } from '../src/index.js'
import {
  accepting,
  canBind,
  closeAll,
  connectedPair,
  LOOPBACK,
  portOf,
  rawClient,
  rawServer,
  record,
} from './loopback.js'

const hasIPv6Loopback = await canBind('::1')

afterEach(closeAll)

describe('listening', () => {
  it('reports the port the OS picked when asked for port 0', async () => {
    const { address } = await accepting()
    expect(address.host).toBe('127.0.0.1')
    expect(address.port).toBeGreaterThan(0)
    const client = await rawClient(address.port)
    expect(client.remotePort).toBe(address.port)
  })

  it.skipIf(!hasIPv6Loopback)(
    'listens on the IPv6 loopback and shows link addresses in brackets',
    async () => {
      const { address } = await accepting(undefined, '[::1]:0')
      expect(address.host).toBe('::1')
      const { dialed, accepted } = await connectedPair('[::1]:0')
      expect(dialed.remoteAddress).toMatch(/^\[::1\]:\d+$/)
      expect(dialed.localAddress).toMatch(/^\[::1\]:\d+$/)
      expect(accepted.remoteAddress).toBe(dialed.localAddress)
    },
  )

  it('listens on a host name and reports the IP address it bound', async () => {
    const { address } = await accepting(undefined, 'localhost:0')
    expect(['127.0.0.1', '::1']).toContain(address.host)
    expect(address.port).toBeGreaterThan(0)
  })

  it('refuses a port another program holds with ADDRESS_IN_USE and suggests port 0', async () => {
    const taken = `127.0.0.1:${portOf(await rawServer('127.0.0.1'))}`
    const listener = createTcpTransport().createListener(() => {})
    const error = await listener.listen(taken).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'ADDRESS_IN_USE', cause: { code: 'EADDRINUSE' } })
    expect((error as Error).message).toContain(`${taken} is already in use`)
    expect((error as Error).message).toContain('--listen 127.0.0.1:0')
  })

  it('can listen on another address after a failed listen', async () => {
    const taken = `127.0.0.1:${portOf(await rawServer('127.0.0.1'))}`
    const listener = createTcpTransport().createListener(() => {})
    await expect(listener.listen(taken)).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' })
    const address = parseAddress(await listener.listen(LOOPBACK))
    expect(address.port).toBeGreaterThan(0)
    await listener.close()
  })

  it('refuses a second listen on a listener that is already listening', async () => {
    const { listener } = await accepting()
    await expect(listener.listen(LOOPBACK)).rejects.toBeInstanceOf(TransportError)
  })

  it('refuses to listen once closed, with CLOSED', async () => {
    const listener = createTcpTransport().createListener(() => {})
    await listener.close()
    await expect(listener.listen(LOOPBACK)).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('rejects a pending listen with CLOSED when closed during the host name lookup', async () => {
    const listen = vi.spyOn(Server.prototype, 'listen')
    const listener = createTcpTransport().createListener(() => {})
    const listening = listener.listen('localhost:0')
    const server = listen.mock.contexts[0] as Server
    listen.mockRestore()
    await listener.close()
    await expect(listening).rejects.toMatchObject({ code: 'CLOSED' })
    expect(server.listening).toBe(false)
  })

  it('frees the port on close while links it accepted stay open', async () => {
    const transport = createTcpTransport()
    const { listener, address, nextLink } = await accepting(transport)
    const dialed = await transport.dial(formatAddress(address))
    const accepted = await nextLink()
    await listener.close()

    const rebound = createTcpTransport().createListener(() => {})
    expect(parseAddress(await rebound.listen(formatAddress(address)))).toEqual(address)
    await rebound.close()

    const received = record(accepted)
    record(dialed)
    dialed.write(new TextEncoder().encode('still here'))
    expect((await received.waitForBytes(10)).toString()).toBe('still here')
    dialed.destroy()
  })

  it('keeps running when a listener error arrives after listening, telling onListenerError', async () => {
    const seen: TransportError[] = []
    const transport = createTcpTransport({ onListenerError: (error) => seen.push(error) })
    const listen = vi.spyOn(Server.prototype, 'listen')
    const { address } = await accepting(transport)
    const server = listen.mock.contexts[0] as Server
    listen.mockRestore()
    // Node reports accept failures (such as EMFILE) as 'error' on the server; an unhandled one would crash.
    server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ code: 'UNKNOWN', cause: { code: 'EMFILE' } })
    const link = await transport.dial(formatAddress(address))
    link.destroy()
  })
})
