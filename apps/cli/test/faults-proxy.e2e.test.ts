/**
 * Issue 5, network faults: two parley processes that dial each other only through fault-injecting
 * proxies on loopback. Each fault (cut, stall, delay, reset mid-frame, flipped bit) lands while lines
 * flow, and the receiver must still show every line exactly once, in order.
 */
import {
  bodiesOf,
  CLEAN_DELIVERY,
  deliveryReport,
  type FaultProxy,
  feedLines,
  finished,
  freePort,
  type JsonEvent,
  jsonEvents,
  type Proc,
  startFaultProxy,
  tempDir,
  useBuiltParley,
  waitUntil,
} from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start, closeAfter } = useBuiltParley()

interface Chat {
  sender: Proc
  receiver: Proc
  /** Every link crosses one of them: sender to receiver, then (when both dial) receiver to sender. */
  proxies: FaultProxy[]
  lines: string[]
  /** Feeds lines [from, to) (paced); the sender's input ends after the last line. */
  feed(from?: number, to?: number): Promise<number>
}

/**
 * Alice sends `count` lines to bob, both keeping their state in a data dir. Alice dials bob through a
 * proxy; with `bothDial`, bob also dials alice through a second one, so whichever link wins the
 * handshake, it crosses a proxy. With one dialer there is one link at a time, so a one-shot fault
 * (a reset, a flipped bit) surely lands on the chat's link.
 */
async function chatThroughProxies(
  tag: string,
  count: number,
  { bothDial = true, extraArgs = [] }: { bothDial?: boolean; extraArgs?: string[] } = {},
): Promise<Chat> {
  const [alicePort, bobPort] = [await freePort(), await freePort()]
  const toBob = await startFaultProxy({ host: '127.0.0.1', port: bobPort })
  const toAlice = bothDial ? await startFaultProxy({ host: '127.0.0.1', port: alicePort }) : undefined
  const used = toAlice ? [toBob, toAlice] : [toBob]
  closeAfter(...used)
  // --wait is how long a sender whose input ended waits for acknowledgements: a ceiling, not a pace.
  const common = ['--json', '--wait', '120', ...extraArgs]
  const receiver = start([
    ...['--listen', `127.0.0.1:${bobPort}`, ...(toAlice ? ['--peer', `127.0.0.1:${toAlice.port}`] : [])],
    ...['--data-dir', tempDir(), '--name', 'bob', ...common],
  ])
  const sender = start([
    ...['--listen', `127.0.0.1:${alicePort}`, '--peer', `127.0.0.1:${toBob.port}`],
    ...['--data-dir', tempDir(), '--name', 'alice', ...common],
  ])
  await receiver.waitFor('stdout', /"type":"connected"/)
  await sender.waitFor('stdout', /"type":"connected"/)
  const lines = Array.from({ length: count }, (_, i) => `${tag}-${i}`)
  return {
    sender,
    receiver,
    proxies: used,
    lines,
    feed: (from = 0, to = count) =>
      feedLines(sender, lines.slice(from, to), { batch: 20, pauseMs: 10, end: to >= count }),
  }
}

const shownCount = (chat: Chat) => jsonEvents(chat.receiver, 'message').length
const count = (proc: Proc, type: string) => jsonEvents(proc, type).length

/**
 * Notes how many `type` events each side printed so far and returns a wait for one more on both
 * sides (the start-up race of two dials may already have printed some).
 */
function nextOnBothSides(chat: Chat, type: string) {
  const before = [count(chat.sender, type), count(chat.receiver, type)]
  return (timeoutMs: number, what: string) =>
    waitUntil(
      () => count(chat.sender, type) > before[0]! && count(chat.receiver, type) > before[1]!,
      timeoutMs,
      what,
    )
}

/** Whether `proc` printed a `connected` event after the event `after`. */
function reconnectedAfter(proc: Proc, after: JsonEvent): boolean {
  const events = jsonEvents(proc)
  return events.slice(events.indexOf(after) + 1).some((e) => e.type === 'connected')
}

/** Waits until the sender has every line acknowledged and exited, then reads all the receiver showed. */
async function expectEveryLineOnce(chat: Chat): Promise<void> {
  expect(await chat.sender.exited).toBe(0)
  const delivered = jsonEvents(chat.sender, 'delivered').map((e) => e.id)
  expect(new Set(delivered).size).toBe(delivered.length)
  expect(delivered).toHaveLength(chat.lines.length)
  chat.receiver.kill('SIGTERM')
  await finished(chat.receiver)
  const shown = bodiesOf(chat.receiver)
  expect(deliveryReport(chat.lines, shown)).toEqual(CLEAN_DELIVERY)
  expect(shown).toHaveLength(chat.lines.length)
}

describe('through a fault-injecting proxy, every line arrives once and in order', () => {
  it('when every connection is cut mid-stream, both sides reconnect', async () => {
    const chat = await chatThroughProxies('cut', 2_000)
    // Each cut lands while the sender's input is still open: fed as one stream, every line could be
    // delivered and the sender gone before a slow test reader saw the cut's mark, leaving nobody to redial.
    const rounds: [from: number, to: number][] = [
      [0, 600],
      [600, 1200],
      [1200, 1800],
    ]
    for (const [i, [from, to]] of rounds.entries()) {
      const feeding = chat.feed(from, to)
      await waitUntil(() => shownCount(chat) >= from + 300, 60_000, `${from + 300} lines shown`)
      const reconnected = nextOnBothSides(chat, 'connected')
      for (const proxy of chat.proxies) proxy.cutAll()
      await reconnected(60_000, `reconnect ${i + 1} on both sides`)
      await feeding
    }
    await chat.feed(1800)
    await expectEveryLineOnce(chat)
    expect(jsonEvents(chat.sender, 'disconnected').length).toBeGreaterThanOrEqual(3)
    expect(jsonEvents(chat.receiver, 'disconnected').length).toBeGreaterThanOrEqual(3)
  })

  it('when traffic stalls without a close, keepalive drops the silent link (--dead-after) and redials', async () => {
    const chat = await chatThroughProxies('stall', 1_000, { extraArgs: ['--dead-after', '2'] })
    // The sender's input stays open until the link is back, so it is still there to redial.
    const feeding = chat.feed(0, 600)
    await waitUntil(() => shownCount(chat) >= 300, 60_000, '300 lines shown')
    const sides = [chat.sender, chat.receiver]
    const before = sides.map((proc) => count(proc, 'disconnected'))
    for (const proxy of chat.proxies) proxy.stall(true)
    // How soon the silence is noticed is the keepalive's business (its unit tests run on a manual
    // clock); here the ceiling only catches a link that is never dropped.
    const drops = await Promise.all(
      sides.map(async (proc, side) => {
        await waitUntil(() => count(proc, 'disconnected') > before[side]!, 60_000, 'the silent link dropped')
        return jsonEvents(proc, 'disconnected')[before[side]!]!
      }),
    )
    // The first side to notice closes its link, and the proxy passes that close on to the other side.
    expect(drops.map((drop) => String(drop.reason))).toContainEqual(
      expect.stringMatching(/sent nothing for 2000 ms/),
    )
    for (const proxy of chat.proxies) proxy.stall(false)
    // Both sides open a session again after their drop: a redial (or one already under way when the
    // stall began, which the stall held) completed its handshake.
    await waitUntil(
      () => sides.every((proc) => reconnectedAfter(proc, drops[sides.indexOf(proc)]!)),
      60_000,
      'a session after the drop on both sides',
    )
    await feeding
    await chat.feed(600)
    await expectEveryLineOnce(chat)
  })

  it('when every byte is delayed, lines still arrive in order', async () => {
    const chat = await chatThroughProxies('delay', 1_000)
    for (const proxy of chat.proxies) proxy.delay(40)
    const drops = count(chat.sender, 'disconnected')
    await chat.feed()
    await expectEveryLineOnce(chat)
    // A slow link is not a dead one: the only drop after the start is the sender's own exit.
    const later = jsonEvents(chat.sender, 'disconnected').slice(drops)
    expect(later.map((e) => e.reason)).toEqual(['input ended'])
  })

  it('when a connection is reset in the middle of a frame, the link is redialed and resumed', async () => {
    const chat = await chatThroughProxies('reset', 1_600, { bothDial: false })
    for (let round = 0; round < 3; round++) {
      // The next chunk towards bob, part of the lines fed next, is cut in half; then both ends are reset.
      const reconnected = nextOnBothSides(chat, 'connected')
      chat.proxies[0]!.resetMidFrameOnNextChunk()
      await chat.feed(round * 400, round * 400 + 400)
      await reconnected(60_000, `reconnect ${round + 1} on both sides`)
    }
    await chat.feed(1_200)
    await expectEveryLineOnce(chat)
    expect(chat.receiver.stderr.join('\n')).not.toMatch(/internal error/)
  })

  it('when a bit is flipped in transit, the corrupt frame is refused and nothing corrupt is shown', async () => {
    const chat = await chatThroughProxies('flip', 1_000, { bothDial: false })
    await chat.feed(0, 300)
    const reconnected = nextOnBothSides(chat, 'connected')
    chat.proxies[0]!.flipBitOnNextChunk('toTarget')
    await chat.feed(300, 600)
    await reconnected(60_000, 'the redial after the corrupt frame')
    await chat.feed(600)
    await expectEveryLineOnce(chat)
  })
})
