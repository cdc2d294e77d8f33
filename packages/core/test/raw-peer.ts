/** A hand-driven remote end over a raw Link: it sends what a test tells it and records what it gets. */
import type { Address } from '../src/address.js'
import { encodeFrame, FrameDecoder } from '../src/codec.js'
import { makeHello } from '../src/link-machine.js'
import type { Message } from '../src/schema.js'
import type { Link } from '../src/transport.js'
import type { MemoryNetwork } from './memory-transport.js'

export class RawPeer {
  readonly received: Message[] = []
  readonly decoder = new FrameDecoder()
  closed = false

  constructor(readonly link: Link) {
    link.attach({
      data: (chunk) => this.received.push(...this.decoder.push(chunk).messages),
      drain: () => undefined,
      close: () => {
        this.closed = true
      },
    })
  }

  /** Dials `to` from `host` (so per-source limits see that host). */
  static async dial(network: MemoryNetwork, to: Address, host = '127.0.0.1'): Promise<RawPeer> {
    return new RawPeer(await network.transport(host).dial(to))
  }

  send(message: Message): void {
    this.link.write(encodeFrame(message))
  }

  /** Raw bytes, dropped quietly once the link is closed. */
  write(bytes: Uint8Array): void {
    if (!this.closed) this.link.write(bytes)
  }

  sendBytes(bytes: number[]): void {
    this.link.write(new Uint8Array(bytes))
  }

  hello(id: string, name = 'raw', caps: string[] = []): void {
    this.send(makeHello({ id, name, instance: 'raw-1' }, caps))
  }

  types(): string[] {
    return this.received.map((m) => m.type)
  }
}
