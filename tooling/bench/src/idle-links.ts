import { type ChildProcess, fork } from 'node:child_process'
import type { ChildReply, ChildRequest, Memory } from './idle-protocol.js'

export interface IdleLinksResult {
  links: number
  rssPerLinkKiB: number
  heapPerLinkKiB: number
  /** Memory outside the JS heap (Buffers, libsodium state) per link. */
  externalPerLinkKiB: number
  holderRssMiB: number
}

/** Links made and dropped from the count before the baseline, so code warm-up is not charged to links. */
const WARM_UP_LINKS = 10
/** The runtime refuses more than 8 links from one host that are still in their handshake. */
const DIAL_BATCH = 8

/**
 * RSS of one secure node holding `links` idle links, as a delta per link. The node (holder) and the other
 * ends (dialers, one node and key pair each) are separate child processes on loopback, killed at the end.
 */
export async function measureIdleLinks(links: number, timeoutMs: number): Promise<IdleLinksResult> {
  const holder = new Child('holder')
  const dialers = new Child('dialers')
  const guard = setTimeout(() => {
    holder.kill()
    dialers.kill()
  }, timeoutMs)
  try {
    const { port } = await holder.ready
    await dialers.ready
    await dialers.ask({ type: 'dial', port, count: WARM_UP_LINKS, batch: DIAL_BATCH }, 'dialed')
    await holder.ask({ type: 'wait', sessions: WARM_UP_LINKS }, 'sessions')
    const before = await holder.ask({ type: 'measure' }, 'memory')
    await dialers.ask({ type: 'dial', port, count: links, batch: DIAL_BATCH }, 'dialed')
    await holder.ask({ type: 'wait', sessions: WARM_UP_LINKS + links }, 'sessions')
    const after = await holder.ask({ type: 'measure' }, 'memory')
    const per = (key: keyof Memory) => (after[key] - before[key]) / links / 1024
    return {
      links,
      rssPerLinkKiB: per('rss'),
      heapPerLinkKiB: per('heapUsed'),
      externalPerLinkKiB: per('external'),
      holderRssMiB: after.rss / 1024 / 1024,
    }
  } finally {
    clearTimeout(guard)
    holder.kill()
    dialers.kill()
  }
}

class Child {
  readonly ready: Promise<{ port: number }>
  private readonly process: ChildProcess
  private readonly inbox: ChildReply[] = []
  private readonly waiters: Array<() => void> = []
  private exited: Error | undefined

  constructor(role: 'holder' | 'dialers') {
    this.process = fork(new URL('./idle-child.js', import.meta.url), [role], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    })
    this.process.on('message', (message: ChildReply) => {
      this.inbox.push(message)
      this.wake()
    })
    this.process.on('exit', (code, signal) => {
      this.exited = new Error(`the idle-link ${role} process exited (${signal ?? code})`)
      this.wake()
    })
    this.ready = this.next('ready')
    // Awaited later; marked handled now so a child that dies early is reported once, by that await.
    this.ready.catch(() => {})
  }

  async ask<T extends ChildReply['type']>(
    request: ChildRequest,
    expect: T,
  ): Promise<Extract<ChildReply, { type: T }>> {
    this.process.send(request)
    return this.next(expect)
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL')
  }

  private async next<T extends ChildReply['type']>(expect: T): Promise<Extract<ChildReply, { type: T }>> {
    for (;;) {
      const index = this.inbox.findIndex((m) => m.type === expect)
      if (index !== -1) return this.inbox.splice(index, 1)[0] as Extract<ChildReply, { type: T }>
      if (this.exited) throw this.exited
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter()
  }
}
