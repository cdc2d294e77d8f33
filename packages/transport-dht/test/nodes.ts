import type { LinkHandlers } from '@parley/core'
import { generateKeyPair } from '@parley/secure'
import type { DhtError } from '../src/errors.js'
import type { DhtLink } from '../src/link.js'
import { createLocalTestnet, type LocalTestnet } from '../src/servers.js'
import { type DhtTransport, type DhtTransportOptions, startDhtTransport } from '../src/transport.js'

/** A transport on the test's private DHT that queues every link it makes, so tests can wait for the next one. */
export interface TestNode {
  transport: DhtTransport
  key: string
  links: DhtLink[]
  refused: DhtError[]
  nextLink(): Promise<DhtLink>
  nextRefusal(): Promise<DhtError>
}

export async function startNode(
  testnet: Pick<LocalTestnet, 'bootstrap'>,
  options: Partial<DhtTransportOptions> = {},
): Promise<TestNode> {
  const keyPair = generateKeyPair()
  const links: DhtLink[] = []
  const refused: DhtError[] = []
  const linkWaiters: ((link: DhtLink) => void)[] = []
  const refusalWaiters: ((error: DhtError) => void)[] = []
  let seenLinks = 0
  let seenRefusals = 0
  const transport = await startDhtTransport({
    keyPair,
    bootstrap: testnet.bootstrap,
    host: '127.0.0.1',
    ...options,
    onLink: (link) => {
      links.push(link)
      linkWaiters.shift()?.(link)
    },
    onRefused: (error) => {
      refused.push(error)
      refusalWaiters.shift()?.(error)
    },
  })
  return {
    transport,
    key: transport.publicKey,
    links,
    refused,
    nextLink: () => {
      const index = seenLinks++
      const ready = links[index]
      return ready ? Promise.resolve(ready) : new Promise((resolve) => linkWaiters.push(resolve))
    },
    nextRefusal: () => {
      const index = seenRefusals++
      const ready = refused[index]
      return ready ? Promise.resolve(ready) : new Promise((resolve) => refusalWaiters.push(resolve))
    },
  }
}

export { createLocalTestnet }

/** Attaches to a link and collects what arrives, with a promise for its close. */
export function collect(link: DhtLink) {
  const chunks: Buffer[] = []
  let onBytes: (() => void) | undefined
  let closeWith: (error: Error | undefined) => void = () => {}
  const closed = new Promise<Error | undefined>((resolve) => {
    closeWith = resolve
  })
  const drains: (() => void)[] = []
  const handlers: LinkHandlers = {
    data: (chunk) => {
      chunks.push(Buffer.from(chunk))
      onBytes?.()
    },
    drain: () => drains.shift()?.(),
    close: (error) => closeWith(error),
  }
  link.attach(handlers)
  const received = () => Buffer.concat(chunks)
  return {
    received,
    closed,
    /** Resolves once at least `n` bytes have arrived. */
    bytes: (n: number) =>
      new Promise<Buffer>((resolve) => {
        const check = () => {
          if (received().byteLength >= n) {
            onBytes = undefined
            resolve(received())
          }
        }
        onBytes = check
        check()
      }),
    drained: () => new Promise<void>((resolve) => drains.push(resolve)),
  }
}
