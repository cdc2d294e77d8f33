import { EventEmitter } from 'node:events'
import type { LinkHandlers } from '@parley/core'
import type HyperDHT from 'hyperdht'
import { describe, expect, it } from 'vitest'
import { DhtLink } from './link.js'

/** Just enough of a HyperDHT stream for a link to attach to it and hear it fail. */
function fakeStream(): EventEmitter {
  return Object.assign(new EventEmitter(), {
    remotePublicKey: Buffer.alloc(32, 0xab),
    publicKey: Buffer.alloc(32, 0xcd),
    pause() {},
    resume() {},
    destroy() {},
    write: () => true,
  })
}

/** The error the link closes with after its stream fails with `error`. */
async function closedWith(error: Error): Promise<Error | undefined> {
  const stream = fakeStream()
  const link = new DhtLink(
    stream as unknown as HyperDHT.SecretStream,
    'inbound',
    { kind: 'key' },
    (remoteHost, remotePort) => ({ kind: 'holepunched', remoteHost, remotePort }),
  )
  const closed = new Promise<Error | undefined>((resolve) => {
    const close = (e?: Error) => resolve(e)
    link.attach({ data() {}, drain() {}, close } as unknown as LinkHandlers)
  })
  stream.emit('error', error)
  stream.emit('close')
  return closed
}

describe('DhtLink', () => {
  it('says a link replaced by a newer one from the same peer was replaced, not that it failed', async () => {
    const replaced = 'a newer connection from the same peer took its place (it restarted, or dialed again)'
    // As Hyperswarm ends the older of two connections: a plain error, no code.
    const bySwarm = await closedWith(new Error('Duplicate connection'))
    expect(bySwarm).toMatchObject({ code: 'LINK_LOST', message: replaced })
    // As HyperDHT's connection pool does it: with a code.
    const byPool = await closedWith(
      Object.assign(new Error('Duplicate connection'), { code: 'DUPLICATE_CONNECTION' }),
    )
    expect(byPool?.message).toBe(replaced)
  })

  it('says the cause of any other failure, without naming the peer by its hex key again', async () => {
    // Shown after the peer's name and fingerprint: `disconnected from bob [jujs-7e7n]: the link failed: …`.
    const error = await closedWith(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }))
    expect(error?.message).toBe('the link failed: connection reset')
  })
})
