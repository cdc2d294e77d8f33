/**
 * Issue 5, "Nothing lost": kill -9 either end of a chat at seeded random points while thousands of
 * lines flow, restart it on the same --data-dir, and check that the receiver showed every sent line
 * exactly once, in order.
 */
import { readFileSync } from 'node:fs'
import { LINES_PER_MSG_SHOWN_BYTES, shownLineBytes } from '@parley/core'
import {
  bodiesOf,
  CLEAN_DELIVERY,
  crash,
  deliveryReport,
  feedLines,
  finished,
  freePort,
  jsonEvents,
  type Proc,
  pickSorted,
  Restartable,
  seededRandom,
  sleep,
  tempDir,
  useBuiltParley,
  waitUntil,
} from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const LINES = 3_000
const KILLS = 3
const SEEDS = [1, 2, 3]

const { start } = useBuiltParley()

/** Distinct bodies of varied length, the same for a given seed. */
function linesFor(tag: string, random: () => number): string[] {
  return Array.from({ length: LINES }, (_, i) => `${tag}-${i} ${'~'.repeat(Math.floor(random() * 40))}`)
}

/** A sender that lived once got exactly one `delivered` per line. */
function expectEachDeliveredOnce(sender: Proc, count: number): void {
  const ids = jsonEvents(sender, 'delivered').map((e) => e.id)
  expect(new Set(ids).size).toBe(ids.length)
  expect(ids).toHaveLength(count)
}

const listening = (proc: Proc) => proc.waitFor('stdout', /"type":"listening"/)

function receiverArgs(port: number, dataDir: string): string[] {
  // No rate limit: these runs are about durability, and 3,000 lines at the default 200/s take 15 s.
  return ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--name', 'bob', '--json', '--rate', '0']
}

function senderArgs(port: number, dataDir: string): string[] {
  return [
    '--listen',
    '127.0.0.1:0',
    '--peer',
    `127.0.0.1:${port}`,
    '--data-dir',
    dataDir,
    '--name',
    'alice',
    '--json',
    '--wait',
    '120',
  ]
}

/**
 * Stops the receiver's last life, then checks what all its lives made durable (replayed with
 * --history) and what they showed: both must be every line, once, in order.
 */
async function expectDurableAndShownOnce(receiver: Restartable, args: string[], lines: string[]) {
  receiver.current.kill('SIGTERM')
  await finished(receiver.current)
  const replay = start([...args, '--history', String(lines.length)])
  await listening(replay)
  await waitUntil(() => jsonEvents(replay, 'history').length >= lines.length, 60_000, 'the whole history')
  expect(deliveryReport(lines, bodiesOf(replay, 'history'))).toEqual(CLEAN_DELIVERY)
  // Writing a batch of lines and recording them as shown are two system calls, so a kill -9 that falls
  // between them shows that one write again after the restart: a life may show again only what was in
  // the last write of the life before it (one write holds at most 4,000 bytes: under 40 lines), once.
  // A life killed right after re-showing such a write parts it from its mark in turn, so on a slow
  // machine the same lines can come back once per kill.
  const seen = new Set<string>()
  const shown: string[] = []
  const again: string[] = []
  receiver.lives.forEach((life, i) => {
    const parted = new Set(i > 0 ? bodiesOf(receiver.lives[i - 1]!).slice(-40) : [])
    for (const body of bodiesOf(life)) {
      if (seen.has(body) && parted.delete(body)) again.push(body)
      else shown.push(body)
      seen.add(body)
    }
  })
  expect(deliveryReport(lines, shown)).toEqual(CLEAN_DELIVERY)
  expect(shown).toHaveLength(lines.length)
  expect(again.length).toBeLessThanOrEqual((receiver.lives.length - 1) * 40)
}

describe('kill -9 during an exchange of thousands of lines', () => {
  it.each(SEEDS)(
    'the restarted receiver shows every line in order, again only the one write a kill parted from its mark (seed %i)',
    async (seed) => {
      const random = seededRandom(seed)
      const lines = linesFor(`r${seed}`, random)
      const port = await freePort()
      const receiverDir = tempDir()
      const receiver = new Restartable(receiverArgs(port, receiverDir), start)
      await listening(receiver.start())
      const sender = start(senderArgs(port, tempDir()))
      // Paced over about 3 s, so every kill lands while lines flow.
      const progress = { written: 0 }
      const feeding = feedLines(sender, lines, { batch: 10, pauseMs: 10, end: true, progress })

      const allDelivered = () => jsonEvents(sender, 'delivered').length >= LINES
      for (const target of pickSorted(random, KILLS, 200, LINES - 600)) {
        const life = receiver.current
        await waitUntil(
          () => (progress.written > target && bodiesOf(life).length > 0) || allDelivered(),
          60_000,
          `line ${target} fed and the receiver showing lines`,
        )
        // On a loaded machine a restarted receiver can take in the whole backlog at once, before the next
        // kill is due: no line is left to flow while it is killed.
        if (bodiesOf(life).length === 0 && allDelivered()) break
        await sleep(Math.floor(random() * 50))
        await crash(life)
        await listening(receiver.start())
      }

      await feeding
      expect(await sender.exited).toBe(0)
      expectEachDeliveredOnce(sender, LINES)
      await expectDurableAndShownOnce(receiver, receiverArgs(port, receiverDir), lines)
      expect(receiver.lives.length).toBeGreaterThanOrEqual(2)
      expect(receiver.lives.length).toBeLessThanOrEqual(KILLS + 1)
      // Every kill hit a receiver that was showing lines.
      const killed = receiver.lives.slice(0, -1)
      expect(killed.map((life) => bodiesOf(life).length > 0)).toEqual(killed.map(() => true))
    },
    240_000,
  )

  it.each(SEEDS)(
    'the restarted sender resends every line it had accepted, and the receiver shows each once (seed %i)',
    async (seed) => {
      const random = seededRandom(seed + 100)
      const lines = linesFor(`s${seed}`, random)
      const port = await freePort()
      const receiver = start(receiverArgs(port, tempDir()))
      await listening(receiver)
      const sender = new Restartable([...senderArgs(port, tempDir()), '--history', String(LINES)], start)

      // Lines whose `sent` event a sender printed before it was killed: it promised to deliver them.
      let promised = 0
      /**
       * A restarted sender lists its own durable lines as `history` (printed before it connects). They
       * must include every promised line; a line made durable just before the kill, whose `sent` was
       * not printed yet, is there too, so the feed resumes after the last durable line.
       */
      const startSender = async () => {
        const proc = sender.start()
        await proc.waitFor('stdout', /"type":"connected"/)
        const durable = jsonEvents(proc, 'history')
          .filter((e) => e.direction === 'out')
          .map((e) => String(e.body))
        expect(durable).toEqual(lines.slice(0, durable.length))
        expect(durable.length).toBeGreaterThanOrEqual(promised)
        return { proc, durable: durable.length }
      }

      for (const target of pickSorted(random, KILLS, 100, LINES - 100)) {
        const { proc, durable } = await startSender()
        const offered = lines.slice(durable)
        const feeding = feedLines(proc, offered, { batch: 50, pauseMs: 5 })
        await waitUntil(
          () => durable + bodiesOf(proc, 'sent').length > target,
          60_000,
          `the sender to accept line ${target}`,
        )
        await sleep(Math.floor(random() * 20))
        await crash(proc)
        await feeding
        const sent = bodiesOf(proc, 'sent')
        // `sent` events are the fed lines, in order.
        expect(sent).toEqual(offered.slice(0, sent.length))
        promised = durable + sent.length
      }
      const { proc: last, durable } = await startSender()
      await feedLines(last, lines.slice(durable), { batch: 50, pauseMs: 5, end: true })
      // It exits once nothing is pending: everything it ever accepted was acknowledged.
      expect(await last.exited).toBe(0)
      expect(last.stderr.join('\n')).not.toMatch(/outbox|not delivered/)

      // Not vacuous: some life delivered lines that an earlier, killed life had accepted.
      const resent = sender.lives.slice(1).map((proc) => {
        const own = new Set(jsonEvents(proc, 'sent').map((e) => e.id))
        return jsonEvents(proc, 'delivered').filter((e) => !own.has(e.id)).length
      })
      expect(resent.some((n) => n > 0)).toBe(true)

      receiver.kill('SIGTERM')
      await finished(receiver)
      const shown = bodiesOf(receiver)
      expect(deliveryReport(lines, shown)).toEqual(CLEAN_DELIVERY)
      expect(shown).toHaveLength(LINES)
    },
    240_000,
  )

  it('a receiver killed while its output is backed up shows, after its restart, the lines it had made durable but not shown', async () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `backlog-${i} ${'='.repeat(60)}`)
    const port = await freePort()
    const receiverDir = tempDir()
    const receiver = new Restartable(receiverArgs(port, receiverDir), start)
    const first = receiver.start()
    await listening(first)
    // A reader that stops reading, like a terminal on hold: once the 64 KiB pipe is full, the receiver
    // blocks in its next write, after persisting that line's message and before showing it.
    first.child.stdout.pause()
    const sender = start(senderArgs(port, tempDir()))
    await feedLines(sender, lines, { batch: 200, pauseMs: 5, end: true })
    await waitUntil(() => bodiesOf(sender, 'sent').length === lines.length, 60_000, 'every line accepted')
    // Killed once it is stuck in that write. Node gives a child's stdout as a Unix socket pair (a pipe on
    // some systems): the kernel then names a socket send (or a pipe write) as what the process waits in.
    const pid = first.child.pid!
    const waitsIn = () => readFileSync(`/proc/${pid}/wchan`, 'utf8')
    await waitUntil(
      () => /sock_alloc_send|unix_stream_sendmsg|pipe_write/.test(waitsIn()),
      60_000,
      'the receiver to block writing to its full stdout',
    )
    first.kill('SIGKILL')
    await first.exited
    first.child.stdout.resume()
    await finished(first)
    expect(bodiesOf(first).length).toBeLessThan(lines.length)

    await listening(receiver.start())
    expect(await sender.exited).toBe(0)
    await expectDurableAndShownOnce(receiver, receiverArgs(port, receiverDir), lines)
  })
})

describe('kill -9 while piped lines travel together (text mode: msg.lines, a message of lines per write)', () => {
  /** The lines a text-mode life showed, from its stdout (`<alice> body`, no time on a pipe). */
  const shownBy = (life: Proc) =>
    life.stdout.filter((line) => line.startsWith('<alice> ')).map((line) => line.slice('<alice> '.length))

  it.each([1, 2])(
    'the restarted text-mode receiver shows every piped line once, in order, again only the message a kill parted from its mark (seed %i)',
    async (seed) => {
      const random = seededRandom(seed + 200)
      // Lines of 50-62 characters: one message carries at most 50 of them (its display write of 4,000
      // bytes, prefixes included, is full first).
      const lines = Array.from(
        { length: LINES },
        (_, i) => `t${seed}-${i} ${'-'.repeat(45 + Math.floor(random() * 10))}`,
      )
      const perMessage = Math.floor(LINES_PER_MSG_SHOWN_BYTES / shownLineBytes('alice', '-'.repeat(50)))
      const port = await freePort()
      const receiverDir = tempDir()
      const args = [
        '--listen',
        `127.0.0.1:${port}`,
        '--data-dir',
        receiverDir,
        '--name',
        'bob',
        '--rate',
        '0',
      ]
      const receiver = new Restartable(args, start)
      await receiver.start().waitFor('stderr', /listening on/)
      const sender = start([
        '--listen',
        '127.0.0.1:0',
        '--peer',
        `127.0.0.1:${port}`,
        '--data-dir',
        tempDir(),
        '--name',
        'alice',
        '--wait',
        '120',
      ])
      const progress = { written: 0 }
      // Paced over about 3 s, so every kill lands while lines flow.
      const feeding = feedLines(sender, lines, { batch: 10, pauseMs: 10, end: true, progress })
      // A one-shot send exits 0 once everything it read is acknowledged.
      let senderDone = false
      void sender.exited.then(() => {
        senderDone = true
      })
      const allDelivered = () => senderDone
      for (const target of pickSorted(random, 2, 300, LINES - 900)) {
        const life = receiver.current
        await waitUntil(
          () => (progress.written > target && shownBy(life).length > 0) || allDelivered(),
          60_000,
          `line ${target} fed and the receiver showing lines`,
        )
        // On a loaded machine a restarted receiver can take in the whole backlog before the next kill.
        if (shownBy(life).length === 0 && allDelivered()) break
        await sleep(Math.floor(random() * 30))
        await crash(life)
        await receiver.start().waitFor('stderr', /listening on/)
      }
      await feeding
      expect(await sender.exited).toBe(0)
      expect(sender.stderr.join('\n')).not.toMatch(/outbox|not delivered/)
      // Acked only once shown: some life showed the last line (the last life may have had nothing left).
      await waitUntil(
        () => receiver.lives.some((life) => shownBy(life).includes(lines.at(-1) as string)),
        60_000,
        'the last line shown',
      )
      receiver.current.kill('SIGTERM')
      await finished(receiver.current)

      // Durable once, in order: the history of the receiver's data dir.
      const replay = start([...args, '--json', '--history', String(LINES)])
      await replay.waitFor('stdout', /"type":"listening"/)
      await waitUntil(() => jsonEvents(replay, 'history').length >= LINES, 60_000, 'the whole history')
      expect(deliveryReport(lines, bodiesOf(replay, 'history'))).toEqual(CLEAN_DELIVERY)
      replay.kill('SIGTERM')

      // Shown once, in order, but for the one message a kill may part from its mark (its lines, once).
      const seen = new Set<string>()
      const shown: string[] = []
      let again = 0
      receiver.lives.forEach((life, i) => {
        const parted = new Set(i > 0 ? shownBy(receiver.lives[i - 1]!).slice(-perMessage) : [])
        for (const body of shownBy(life)) {
          if (seen.has(body) && parted.delete(body)) again++
          else shown.push(body)
          seen.add(body)
        }
      })
      expect(deliveryReport(lines, shown)).toEqual(CLEAN_DELIVERY)
      expect(again).toBeLessThanOrEqual((receiver.lives.length - 1) * perMessage)
      // Not vacuous: at least one kill hit a receiver that was showing lines.
      expect(receiver.lives.length).toBeGreaterThanOrEqual(2)
      expect(shownBy(receiver.lives[0]!).length).toBeGreaterThan(0)
      expect(shownBy(receiver.lives[0]!).length).toBeLessThan(LINES)
    },
    240_000,
  )
})
