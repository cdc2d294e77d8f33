import { encodeFrame } from '@parley/core'
import { createTcpTransport } from '@parley/transport-tcp'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { accepting, closeAll, rawClient, record, refusals, secureNode, text, track } from './helpers.js'

afterEach(closeAll)

const NOT_SECURE = /^peer at .+ is not speaking the parley secure protocol \(is it running with --plain\?\)$/
const hello = (name: string) => encodeFrame({ type: 'hello', v: '1.0', id: 'ab'.repeat(32), name, caps: [] })

/** Checks that the secure listener still hands a good peer a working link. */
async function servesGoodPeer(server: Awaited<ReturnType<typeof accepting>>): Promise<void> {
  const good = secureNode()
  const link = await good.transport.dial(server.address)
  track(() => link.destroy())
  const accepted = record(await server.nextLink())
  link.write(text('ping'))
  expect((await accepted.waitForBytes(4)).toString()).toBe('ping')
}

describe('peers that do not speak the secure protocol', () => {
  it('reports a plain parley node that dials a secure listener as NOT_SECURE, and keeps serving', async () => {
    const refused = refusals()
    const server = await accepting(secureNode({ onRefused: refused.onRefused }).transport)
    const plain = await createTcpTransport().dial(server.address)
    track(() => plain.destroy())
    const atPlain = record(plain)
    plain.write(hello('plain-alice'))

    const report = await refused.next()
    expect(report).toMatchObject({ code: 'NOT_SECURE', direction: 'inbound' })
    expect(report.reason).toMatch(NOT_SECURE)
    expect(report.remoteKey).toBeUndefined()
    await atPlain.closed
    await servesGoodPeer(server)
  })

  it('reports a netcat-like text client as NOT_SECURE, and keeps serving', async () => {
    const refused = refusals()
    const server = await accepting(secureNode({ onRefused: refused.onRefused }).transport)
    const nc = await rawClient(server.address)
    // Like nc, it reads what it is sent: one line saying what it reached.
    let heard = ''
    nc.setEncoding('utf8').on('data', (text: string) => {
      heard += text
    })
    const hungUp = new Promise((resolve) => nc.once('close', resolve))
    nc.write('hi there, anyone?\n')
    const report = await refused.next()
    expect(report.code).toBe('NOT_SECURE')
    expect(report.reason).toMatch(NOT_SECURE)
    await hungUp
    expect(heard).toMatch(/^parley: this is an encrypted parley node; .*\n$/)
    await servesGoodPeer(server)
  })

  it('fails a dial to a plain parley listener with NOT_SECURE', async () => {
    const plain = createTcpTransport().createListener((link) => {
      track(() => link.destroy())
      link.attach({ data: () => {}, drain: () => {}, close: () => {} })
      link.write(hello('plain-bob'))
    })
    track(() => plain.close())
    const address = await plain.listen('127.0.0.1:0')
    const error = await secureNode()
      .transport.dial(address)
      .catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'NOT_SECURE' })
    expect((error as Error).message).toMatch(NOT_SECURE)
  })

  it('times out a dial to a listener that never answers the handshake', async () => {
    const silent = createTcpTransport().createListener((link) => {
      track(() => link.destroy())
      link.attach({ data: () => {}, drain: () => {}, close: () => {} })
    })
    track(() => silent.close())
    const address = await silent.listen('127.0.0.1:0')
    const error = await secureNode({ handshakeTimeoutMs: 200 })
      .transport.dial(address)
      .catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'TIMEOUT' })
    expect((error as Error).message).toMatch(
      /did not complete within 200 ms: the peer sent nothing \(is it paused, overloaded, or something other than parley\?\)$/,
    )
    // A node that says nothing is stuck, not --plain: a --plain node answers in words at once.
    expect((error as Error).message).not.toMatch(/--plain/)
  })

  it('reports a client that connects and says nothing as TIMEOUT, and one that hangs up as CLOSED', async () => {
    const refused = refusals()
    const server = await accepting(
      secureNode({ onRefused: refused.onRefused, handshakeTimeoutMs: 200 }).transport,
    )
    await rawClient(server.address)
    expect(await refused.next()).toMatchObject({ code: 'TIMEOUT' })
    const quitter = await rawClient(server.address)
    quitter.end()
    expect(await refused.next()).toMatchObject({
      code: 'CLOSED',
      reason: expect.stringContaining('before starting'),
    })
  })

  it('aborts a dial during the handshake when its signal fires', async () => {
    const abort = new AbortController()
    // The peer answers nothing; the signal fires once the dialer's first handshake bytes reached it.
    const silent = createTcpTransport().createListener((link) => {
      track(() => link.destroy())
      link.attach({ data: () => abort.abort(), drain: () => {}, close: () => {} })
    })
    track(() => silent.close())
    const address = await silent.listen('127.0.0.1:0')
    const dial = secureNode().transport.dial(address, { signal: abort.signal })
    await expect(dial).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('survives arbitrary bytes from arbitrary clients', async () => {
    const refused = refusals()
    const server = await accepting(
      secureNode({ onRefused: refused.onRefused, handshakeTimeoutMs: 300 }).transport,
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }),
        async (chunks) => {
          const before = refused.all.length
          const client = await rawClient(server.address)
          // It reads (a text client is answered with a line), so it sees the end of the stream.
          client.resume()
          for (const chunk of chunks) client.write(chunk)
          client.end()
          await new Promise((resolve) => client.once('close', resolve))
          await refused.next()
          expect(refused.all.length).toBe(before + 1)
          expect(server.accepted).toHaveLength(0)
        },
      ),
      { numRuns: 40 },
    )
    expect(refused.all).toHaveLength(40)
    for (const { code } of refused.all) expect(['NOT_SECURE', 'CLOSED', 'CRYPTO', 'TIMEOUT']).toContain(code)
    await servesGoodPeer(server)
  })
})
