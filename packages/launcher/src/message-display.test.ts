import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeEvent, PeerInfo } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { actionBody } from './commands.js'
import type { CatchUpKinds } from './display.js'
import {
  CATCH_UP_SLACK_MS,
  type CatchUpPolicy,
  clockSlackFrom,
  type LineTarget,
  MessageDisplay,
  type ShownMessage,
  streamLines,
} from './message-display.js'

const alice: PeerInfo = { id: 'a'.repeat(64), name: 'alice' }
const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }
const START = 1_000_000

function message(from: PeerInfo, seq: number, ts: number, body = `${from.name} ${seq}`): NodeEvent {
  return { type: 'message', id: `${from.name}-${seq}`, seq, ts, from, body }
}

/** A display over a manual clock and timers, writing lines to an array. */
function setup(policy: () => CatchUpPolicy = () => 'show', clockSlackMs = CATCH_UP_SLACK_MS) {
  let now = START
  const timers: { at: number; run: () => void; cancelled: boolean }[] = []
  const out: string[] = []
  const markers: number[] = []
  const marks: Map<string, number>[] = []
  const target: LineTarget = {
    kind: 'lines',
    format: (m: ShownMessage) => `${m.catchUp ? 'old ' : ''}<${m.from.name}> ${m.action ?? m.body}`,
    write: (text) => out.push(...text.trimEnd().split('\n')),
    catchUp: (count) => markers.push(count),
  }
  const display = new MessageDisplay({
    target,
    catchUp: policy,
    clockSlackMs,
    now: () => now,
    schedule: (run, ms) => {
      const timer = { at: now + ms, run, cancelled: false }
      timers.push(timer)
      return {
        cancel: () => {
          timer.cancelled = true
        },
      }
    },
  })
  display.bind({ markShown: (shown) => marks.push(new Map(shown)) })
  const advance = (ms: number) => {
    now += ms
    for (const t of timers.splice(0).sort((a, b) => a.at - b.at)) {
      if (t.cancelled) continue
      if (t.at <= now) t.run()
      else timers.push(t)
    }
  }
  return { display, out, markers, marks, advance }
}

/** A display whose catch-up markers are recorded with their kinds, over a clock the test moves. */
function kindsDisplay(firstRun: boolean) {
  const clock = { now: START }
  const counts: [number, CatchUpKinds][] = []
  const display = new MessageDisplay({
    target: {
      kind: 'lines',
      format: (m) => `${m.beforeJoining ? 'before ' : ''}${m.body}`,
      write: () => undefined,
      catchUp: (n, kinds) => counts.push([n, kinds]),
    },
    now: () => clock.now,
    schedule: (run) => {
      queueMicrotask(run)
      return { cancel: () => undefined }
    },
  })
  display.bind({ markShown: () => true, firstRun })
  return { display, counts, clock }
}

describe('message display', () => {
  it('shows catch-up in time order across senders, behind one marker with its count', () => {
    const { display, out, markers, advance } = setup()
    // A neighbour sends its backlog one sender at a time.
    display.push(message(alice, 1, START - 60_000))
    display.push(message(alice, 2, START - 20_000))
    display.push(message(bob, 1, START - 40_000))
    expect(out).toEqual([])
    advance(300)
    expect(markers).toEqual([3])
    expect(out).toEqual(['old <alice> alice 1', 'old <bob> bob 1', 'old <alice> alice 2'])
  })

  it("keeps a sender's own order in a catch-up when its clock stepped back, placed as the history places it", () => {
    const { display, out, advance } = setup()
    // alice's clock went back a minute between her two lines, while bob wrote between them.
    display.push(message(alice, 1, START - 20_000))
    display.push(message(bob, 1, START - 30_000))
    display.push(message(alice, 2, START - 90_000))
    advance(300)
    expect(out).toEqual(['old <bob> bob 1', 'old <alice> alice 1', 'old <alice> alice 2'])
  })

  it('places a line the last run received, dated ahead by its sender, at its arrival, as the history does', () => {
    const { display, out, advance } = setup()
    // alice's clock runs an hour ahead; her line reached the last run before bob's, which was killed
    // before showing either.
    const replayed = (m: NodeEvent, at: number) => ({ ...m, replayed: true, at }) as NodeEvent
    display.push(replayed(message(alice, 1, START + 3_600_000), START - 50_000))
    display.push(replayed(message(bob, 1, START - 40_000), START - 40_000))
    advance(300)
    expect(out).toEqual(['old <alice> alice 1', 'old <bob> bob 1'])
  })

  it("keeps each sender's catch-up in its own order when another sender dates its lines back and forth", () => {
    const { display, out, advance } = setup()
    // Mallory's backlog, dated alternately after and before all of bob's, then bob's five lines.
    const mallory: PeerInfo = { id: 'c'.repeat(64), name: 'mallory' }
    for (let seq = 1; seq <= 5; seq++)
      display.push(message(mallory, seq, seq % 2 === 1 ? START - 10_000 : START - 100_000))
    for (let seq = 1; seq <= 5; seq++) display.push(message(bob, seq, START - 60_000 + seq * 1_000))
    advance(300)
    expect(out.filter((line) => line.startsWith('old <bob>'))).toEqual([
      'old <bob> bob 1',
      'old <bob> bob 2',
      'old <bob> bob 3',
      'old <bob> bob 4',
      'old <bob> bob 5',
    ])
    expect(out.filter((line) => line.startsWith('old <mallory>'))).toEqual(
      [1, 2, 3, 4, 5].map((seq) => `old <mallory> mallory ${seq}`),
    )
  })

  it("keeps every sender's catch-up in its order whatever times the others give, over many mixes", () => {
    let state = 7
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
      return state / 2_147_483_648
    }
    const senders = [alice, bob, { id: 'c'.repeat(64), name: 'carol' }]
    for (let trial = 0; trial < 200; trial++) {
      const { display, out, advance } = setup()
      const next = senders.map(() => 1)
      const count = 1 + Math.floor(random() * 90)
      for (let i = 0; i < count; i++) {
        const s = Math.floor(random() * senders.length)
        const seq = next[s]!++
        // Alice's and bob's clocks are right; carol's lines carry any time.
        const ts = s === 2 ? START - 200_000 + Math.floor(random() * 100_000) : START - 200_000 + seq * 1_000
        display.push(message(senders[s]!, seq, ts))
      }
      advance(300)
      for (const [s, sender] of senders.entries()) {
        const own = out.filter((line) => line.startsWith(`old <${sender.name}>`))
        expect(own).toEqual(
          Array.from({ length: next[s]! - 1 }, (_, k) => `old <${sender.name}> ${sender.name} ${k + 1}`),
        )
      }
    }
  })

  it('shows catch-up a sender sent out of its order (a gap filled late) in its order', () => {
    const { display, out, advance } = setup()
    display.push(message(alice, 3, START - 30_000))
    display.push(message(bob, 1, START - 50_000))
    display.push(message(alice, 1, START - 60_000))
    display.push(message(alice, 2, START - 40_000))
    advance(300)
    expect(out).toEqual([
      'old <alice> alice 1',
      'old <bob> bob 1',
      'old <alice> alice 2',
      'old <alice> alice 3',
    ])
  })

  it('tells the marker how many of a catch-up the last run received and did not mark as shown', () => {
    const counts: [number, number][] = []
    const display = new MessageDisplay({
      target: {
        kind: 'lines',
        format: (m) => m.body,
        write: () => undefined,
        catchUp: (n, kinds) => counts.push([n, kinds.replayed]),
      },
      now: () => START,
      schedule: (run) => {
        queueMicrotask(run)
        return { cancel: () => undefined }
      },
    })
    display.bind({ markShown: () => true })
    display.push({ ...message(alice, 1, START - 1), replayed: true } as NodeEvent)
    display.push({ ...message(alice, 2, START - 1), replayed: true } as NodeEvent)
    display.push(message(bob, 1, START - 60_000))
    display.close()
    expect(counts).toEqual([[3, 2]])
  })

  it("tells the marker, in a node's first run, which of a catch-up was sent before it joined", () => {
    const { display, counts, clock } = kindsDisplay(true)
    display.push(message(alice, 1, START - 60_000))
    display.push(message(bob, 1, START - 30_000))
    display.flushLive()
    display.push(message(alice, 2, START + 1_000))
    // Its link to bob dropped a minute later, and opened again: what bob sent meanwhile was held up.
    clock.now = START + 120_000
    display.push({ type: 'connected', peer: bob, address: '127.0.0.1:5000', direction: 'outbound' })
    display.push(message(bob, 2, START + 60_000))
    display.close()
    expect(counts).toEqual([
      [2, { replayed: 0, beforeJoining: 2, heldUp: 0 }],
      [1, { replayed: 0, beforeJoining: 0, heldUp: 1 }],
    ])
  })

  it('tells apart, outside a first run, what came while it was away and what was held up while it ran', () => {
    const { display, counts, clock } = kindsDisplay(false)
    display.push(message(alice, 1, START - 60_000))
    display.flushLive()
    display.push(message(alice, 2, START + 1_000))
    // bob was killed and came back: what his outbox held, sent while this node ran, was held up.
    clock.now = START + 120_000
    display.push({ type: 'connected', peer: bob, address: '127.0.0.1:5000', direction: 'outbound' })
    display.push(message(bob, 1, START + 30_000))
    display.push(message(bob, 2, START + 40_000))
    display.close()
    expect(counts).toEqual([
      [1, { replayed: 0, beforeJoining: 0, heldUp: 0 }],
      [2, { replayed: 0, beforeJoining: 0, heldUp: 2 }],
    ])
  })

  it('shows a catch-up a peer brought before the line that says it left', () => {
    const { display, out, markers } = setup()
    display.push(message(bob, 1, START - 30_000))
    display.push(message(bob, 2, START - 20_000))
    display.push({ type: 'disconnected', peer: bob, reason: 'bob left (input ended)' })
    // The frontend prints the disconnected line right after this push: the backlog is out before it.
    expect(markers).toEqual([2])
    expect(out).toEqual(['old <bob> bob 1', 'old <bob> bob 2'])
  })

  it('shows live messages at once, after any catch-up still held', () => {
    const { display, out, markers } = setup()
    display.push(message(bob, 1, START - 30_000))
    display.push(message(alice, 5, START + 10))
    expect(markers).toEqual([1])
    expect(out).toEqual(['old <bob> bob 1', '<alice> alice 5'])
  })

  it('hides catch-up from a one-shot send and leaves it unmarked, to be shown by a later run', () => {
    const { display, out, markers, marks, advance } = setup(() => 'hide')
    display.push(message(bob, 1, START - 30_000))
    advance(300)
    display.push(message(alice, 1, START + 5))
    expect(markers).toEqual([])
    expect(out).toEqual(['<alice> alice 1'])
    expect(marks).toEqual([new Map([[alice.id, 1]])])
  })

  it('holds catch-up while the input has not said what it is, then shows it', () => {
    let policy: CatchUpPolicy = 'undecided'
    const { display, out, advance } = setup(() => policy)
    display.push(message(bob, 1, START - 30_000))
    advance(300)
    expect(out).toEqual([])
    policy = 'show'
    advance(300)
    expect(out).toEqual(['old <bob> bob 1'])
  })

  it('treats what a newly opened link brings from before it opened as catch-up', () => {
    const { display, out, markers, advance } = setup()
    advance(60_000)
    display.push({
      type: 'connected',
      peer: bob,
      address: '127.0.0.1:5000',
      direction: 'outbound',
    })
    display.push(message(bob, 7, START + 30_000))
    advance(300)
    expect(markers).toEqual([1])
    expect(out).toEqual(['old <bob> bob 7'])
  })

  it('marks a sender as shown right after its lines are written, never before', () => {
    const { display, marks, out } = setup()
    const written: number[] = []
    display.push(message(alice, 1, START + 1))
    written.push(out.length)
    display.push(message(alice, 2, START + 2))
    expect(marks).toEqual([new Map([[alice.id, 1]]), new Map([[alice.id, 2]])])
    expect(written).toEqual([1])
  })

  it('shows an action as its text, from a new or an older frontend', () => {
    const { display, out } = setup()
    display.push(message(alice, 1, START + 1, actionBody('waves')))
    display.push(message(alice, 2, START + 2, '\u0001ACTION shrugs'))
    expect(out).toEqual(['<alice> waves', '<alice> shrugs'])
  })

  it('shows messages that arrive before the node is bound, and marks them once it is', () => {
    const out: string[] = []
    const marks: Map<string, number>[] = []
    const display = new MessageDisplay({
      target: { kind: 'lines', format: (m) => m.body, write: (t) => out.push(t), catchUp: () => undefined },
    })
    display.push(message(bob, 3, Date.now()))
    expect(out).toEqual(['bob 3\n'])
    display.bind({ markShown: (shown) => marks.push(new Map(shown)) })
    expect(marks).toEqual([new Map([[bob.id, 3]])])
  })
})

describe('an output that went away', () => {
  it('marks nothing written once a write failed, so the next run shows it again', () => {
    const marks: Map<string, number>[] = []
    let gone = false
    const display = new MessageDisplay({
      target: {
        kind: 'lines',
        format: (m) => m.body,
        // As a blocking write to a pipe whose reader left: it fails, and says so before it returns.
        write: (t) => {
          if (t.includes('bob 2')) gone = true
        },
        catchUp: () => undefined,
        gone: () => gone,
      },
    })
    display.bind({ markShown: (shown) => marks.push(new Map(shown)) })
    display.push(message(bob, 1, Date.now()))
    display.push(message(bob, 2, Date.now()))
    display.push(message(bob, 3, Date.now()))
    expect(marks).toEqual([new Map([[bob.id, 1]])])
  })
})

describe('batched live lines', () => {
  /** A display that defers live writes until `run()` is called, as a frontend's microtask would. */
  function batched() {
    const writes: string[] = []
    const marks: Map<string, number>[] = []
    const deferred: (() => void)[] = []
    const display = new MessageDisplay({
      target: {
        kind: 'lines',
        format: (m) => m.body,
        write: (t) => writes.push(t),
        catchUp: () => undefined,
      },
      defer: (callback) => deferred.push(callback),
    })
    display.bind({ markShown: (shown) => marks.push(new Map(shown)) })
    const run = () => {
      for (const callback of deferred.splice(0)) callback()
    }
    return { display, writes, marks, deferred, run }
  }

  it('writes the live messages of one turn in one write, then marks them once', () => {
    const { display, writes, marks, deferred, run } = batched()
    const now = Date.now()
    for (let seq = 1; seq <= 3; seq++) display.push(message(alice, seq, now))
    display.push(message(bob, 1, now))
    expect(writes).toEqual([])
    expect(marks).toEqual([])
    expect(deferred).toHaveLength(1)
    run()
    expect(writes).toEqual(['alice 1\nalice 2\nalice 3\nbob 1\n'])
    expect(marks).toEqual([
      new Map([
        [alice.id, 3],
        [bob.id, 1],
      ]),
    ])
  })

  it('writes waiting messages before anything the frontend prints for a later event', () => {
    const { display, writes, run } = batched()
    display.push(message(alice, 1, Date.now()))
    display.push({ type: 'disconnected', peer: alice, reason: 'gone' })
    expect(writes).toEqual(['alice 1\n'])
    run()
    expect(writes).toEqual(['alice 1\n'])
  })

  it('writes waiting messages when it is closed, without waiting for the deferred write', () => {
    const { display, writes, marks } = batched()
    display.push(message(bob, 4, Date.now()))
    display.close()
    expect(writes).toEqual(['bob 4\n'])
    expect(marks).toEqual([new Map([[bob.id, 4]])])
  })

  it('keeps live messages ahead of catch-up that arrived after them', () => {
    const { display, writes, run } = batched()
    const now = Date.now()
    display.push(message(alice, 1, now))
    display.push(message(bob, 1, now - 60_000))
    display.push(message(alice, 2, now))
    run()
    expect(writes).toEqual(['alice 1\n', 'bob 1\n', 'alice 2\n'])
  })
})

describe('clock slack', () => {
  it('treats a message sent within the slack before the start as live, and one sent earlier as catch-up', () => {
    const loose = setup()
    loose.display.push(message(alice, 1, START - CATCH_UP_SLACK_MS + 1))
    expect(loose.out).toEqual(['<alice> alice 1'])
    const exact = setup(() => 'show', 0)
    exact.display.push(message(alice, 1, START - 1))
    expect(exact.out).toEqual([])
    exact.advance(5_000)
    expect(exact.out).toEqual(['old <alice> alice 1'])
    expect(exact.markers).toEqual([1])
  })

  it('reads PARLEY_CLOCK_SLACK_MS as whole milliseconds, and falls back to the default on anything else', () => {
    expect(clockSlackFrom({ PARLEY_CLOCK_SLACK_MS: '0' })).toBe(0)
    expect(clockSlackFrom({ PARLEY_CLOCK_SLACK_MS: '15000' })).toBe(15_000)
    for (const bad of [undefined, '', '-1', '1.5', 'soon']) {
      expect(clockSlackFrom({ PARLEY_CLOCK_SLACK_MS: bad })).toBe(CATCH_UP_SLACK_MS)
    }
  })
})

describe('runs of lines (a plain node made with `runs`)', () => {
  function run(
    from: PeerInfo,
    firstSeq: number,
    bodies: string[],
    ts = Date.now(),
  ): Extract<NodeEvent, { type: 'lines' }> {
    return { type: 'lines', from, firstSeq, idPrefix: `${from.name}-`, ts, bodies }
  }

  function display(keepsMarks?: boolean, formatRun: LineTarget['formatRun'] = undefined) {
    const writes: string[] = []
    const marks: Map<string, number>[] = []
    const formatted: ShownMessage[] = []
    const target: LineTarget = {
      kind: 'lines',
      format: (m) => {
        formatted.push(m)
        return `${m.action !== undefined ? '*' : '<'}${m.from.name}> ${m.action ?? m.body}`
      },
      formatRun: formatRun ?? ((r) => r.bodies.map((body) => `<${r.from.name}> ${body}`).join('\n')),
      write: (t) => writes.push(t),
      catchUp: () => undefined,
    }
    const shown = new MessageDisplay({ target })
    shown.bind({
      markShown: (m) => marks.push(new Map(m)),
      ...(keepsMarks === undefined ? {} : { keepsMarks }),
    })
    return { shown, writes, marks, formatted }
  }

  it('writes a run as one text after the lines before it, and marks its last line once it is written', () => {
    const { shown, writes, marks } = display()
    shown.push(message(bob, 1, Date.now(), 'first'))
    shown.push(run(alice, 1, ['one', '', 'three']))
    expect(writes).toEqual(['<bob> first\n', '<alice> one\n<alice> \n<alice> three\n'])
    expect(marks).toEqual([new Map([[bob.id, 1]]), new Map([[alice.id, 3]])])
  })

  it('cuts a long run into writes of whole lines of at most 4,000 bytes, each marked once written', () => {
    const { shown, writes, marks } = display()
    const bodies = Array.from(
      { length: 300 },
      (_, i) => `line ${i + 1} ${i % 3 === 0 ? 'grüße 😀' : 'plain'}`,
    )
    shown.push(run(alice, 11, bodies))
    expect(writes.length).toBeGreaterThan(1)
    for (const w of writes) {
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(4_000)
      expect(w.endsWith('\n')).toBe(true)
    }
    expect(writes.join('')).toBe(`${bodies.map((b) => `<alice> ${b}`).join('\n')}\n`)
    // Each write's mark is the seq of its last line.
    let seq = 10
    for (const [i, w] of writes.entries()) {
      seq += w.split('\n').length - 1
      expect(marks[i]).toEqual(new Map([[alice.id, seq]]))
    }
    expect(seq).toBe(310)
  })

  it('writes the lines of one message whole, and marks their one seq once they are all written', () => {
    const { shown, writes, marks } = display()
    const bodies = Array.from({ length: 120 }, (_, i) => `line ${i + 1} of one message`)
    shown.push({ ...run(alice, 7, bodies), oneMessage: true })
    shown.push(message(bob, 1, Date.now(), 'after'))
    expect(writes).toEqual([`${bodies.map((b) => `<alice> ${b}`).join('\n')}\n`, '<bob> after\n'])
    expect(marks).toEqual([new Map([[alice.id, 7]]), new Map([[bob.id, 1]])])
  })

  it('formats the lines of one message one by one where a line needs it, under their own ids', () => {
    const { shown, writes, marks, formatted } = display(undefined, () => undefined)
    shown.push({ ...run(alice, 4, ['a', 'b']), oneMessage: true })
    expect(formatted.map((m) => [m.id, m.seq, m.body])).toEqual([
      ['alice-', 4, 'a'],
      ['alice-.1', 4, 'b'],
    ])
    expect(writes.join('')).toBe('<alice> a\n<alice> b\n')
    expect(marks.at(-1)).toEqual(new Map([[alice.id, 4]]))
  })

  it('writes a run whole when the node keeps no marks (plain mode)', () => {
    const { shown, writes, marks } = display(false)
    const bodies = Array.from({ length: 300 }, (_, i) => `line ${i + 1}`)
    shown.push(run(alice, 1, bodies))
    expect(writes).toEqual([`${bodies.map((b) => `<alice> ${b}`).join('\n')}\n`])
    expect(marks).toEqual([new Map([[alice.id, 300]])])
  })

  it('formats a run line by line, ids and actions included, when the target cannot make it at once', () => {
    const { shown, writes, formatted } = display(undefined, () => undefined)
    shown.push(run(alice, 5, ['hi', actionBody('waves')]))
    expect(writes).toEqual(['<alice> hi\n*alice> waves\n'])
    expect(formatted.map((m) => [m.id, m.seq, m.body, m.action, m.catchUp])).toEqual([
      ['alice-5', 5, 'hi', undefined, false],
      ['alice-6', 6, actionBody('waves'), 'waves', false],
    ])
  })

  it('holds a run sent before the start as catch-up, like the messages it stands for', () => {
    const { shown, writes, formatted } = display()
    shown.push(run(alice, 1, ['old one', 'old two'], Date.now() - CATCH_UP_SLACK_MS - 60_000))
    expect(writes).toEqual([])
    shown.close()
    expect(writes).toEqual(['<alice> old one\n<alice> old two\n'])
    expect(formatted.map((m) => [m.seq, m.catchUp])).toEqual([
      [1, true],
      [2, true],
    ])
  })

  it('hands a frame target the messages of a run', () => {
    const frames: (readonly ShownMessage[])[] = []
    const shown = new MessageDisplay({ target: { kind: 'frames', show: (m) => frames.push(m) } })
    shown.bind({ markShown: () => undefined })
    shown.push(run(bob, 2, ['a', 'b']))
    expect(frames.map((f) => f.map((m) => [m.id, m.seq, m.body]))).toEqual([
      [['bob-2', 2, 'a']],
      [['bob-3', 3, 'b']],
    ])
  })
})

describe('lines carried in one message (msg.lines: one seq, a message event per line)', () => {
  it('never cuts a write between the lines of one message, so each mark covers only lines written', () => {
    const writes: string[] = []
    const marks: Map<string, number>[] = []
    let later: (() => void) | undefined
    const target: LineTarget = {
      kind: 'lines',
      format: (m) => `<${m.from.name}> ${m.body}`,
      write: (t) => writes.push(t),
      catchUp: () => undefined,
    }
    const shown = new MessageDisplay({
      target,
      defer: (callback) => {
        later = callback
      },
    })
    shown.bind({ markShown: (m) => marks.push(new Map(m)) })
    const now = Date.now()
    // Three messages of 40 lines, about 2,700 bytes each shown: two never fit one 4,000-byte write.
    const lines = (seq: number) => Array.from({ length: 40 }, (_, i) => `${seq}:${i} ${'w'.repeat(50)}`)
    for (const seq of [1, 2, 3]) {
      for (const [i, body] of lines(seq).entries()) {
        shown.push({ type: 'message', id: `m${seq}.${i}`, seq, ts: now, from: alice, body })
      }
    }
    later?.()
    expect(writes.join('')).toBe(
      `${[1, 2, 3].flatMap((seq) => lines(seq).map((b) => `<alice> ${b}`)).join('\n')}\n`,
    )
    // A write per message here, each ending with its last line, and marked with its seq once written.
    expect(writes.map((w) => w.split('\n').length - 1)).toEqual([40, 40, 40])
    expect(marks).toEqual([1, 2, 3].map((seq) => new Map([[alice.id, seq]])))
  })

  it('shows a catch-up past its cap between messages, never between the lines of one', () => {
    const { display, out, marks, advance } = setup()
    // What each mark claimed, and how many lines of that message had been written when it did.
    const claims: { seq: number; written: number }[] = []
    display.bind({
      markShown: (shown) => {
        const seq = shown.get(alice.id) as number
        claims.push({ seq, written: out.filter((line) => line.startsWith(`old <alice> ${seq}:`)).length })
        marks.push(new Map(shown))
      },
    })
    // 30 messages of 700 lines sent long before the start: 21,000 lines of catch-up, and the cap of 20,000
    // falls inside message 29.
    const old = START - 60 * 60_000
    for (let seq = 1; seq <= 30; seq++)
      for (let i = 0; i < 700; i++)
        display.push({
          type: 'message',
          id: `m${seq}.${i}`,
          seq,
          ts: old + seq,
          from: alice,
          body: `${seq}:${i}`,
        })
    advance(10_000)
    expect(out).toEqual(
      Array.from({ length: 30 }, (_, s) =>
        Array.from({ length: 700 }, (_, i) => `old <alice> ${s + 1}:${i}`),
      ).flat(),
    )
    // A write and a mark per message (each is over 4,000 bytes), each mark made once all its lines were
    // written; the first batch ends with message 28 (19,600 lines), whole.
    expect(claims).toEqual(Array.from({ length: 30 }, (_, s) => ({ seq: s + 1, written: 700 })))
  })
})

describe('message display once a display mark cannot be written', () => {
  /** A display whose marks fail from the `failAt`-th on; catch-up is let out by `release`. */
  function failing(failAt: number, failure?: () => unknown) {
    const writes: string[] = []
    let calls = 0
    const timers: (() => void)[] = []
    const display = new MessageDisplay({
      target: {
        kind: 'lines',
        // 1,500 bytes a line: two lines fill one write of 4,000 bytes.
        format: (m) => `<${m.from.name}> ${m.body}`.padEnd(1_500, '.'),
        write: (text) => writes.push(text),
        catchUp: () => undefined,
      },
      now: () => START,
      schedule: (run) => {
        timers.push(run)
        return { cancel: () => timers.splice(timers.indexOf(run), 1) }
      },
    })
    display.bind({
      markShown: () => ++calls < failAt,
      ...(failure ? { failure: failure as () => never } : {}),
    })
    const release = () => {
      for (const run of timers.splice(0)) run()
    }
    return { display, writes, calls: () => calls, release }
  }

  it('writes nothing after the write whose mark failed: not the rest of the catch-up, nor later messages', () => {
    const { display, writes, calls, release } = failing(1)
    for (let seq = 1; seq <= 5; seq++) display.push(message(bob, seq, START - 60_000))
    release()
    // The catch-up takes three writes; its first mark failed, so the other two never happen.
    expect(writes).toHaveLength(1)
    expect(writes[0]).toContain('<bob> bob 1')
    display.push(message(alice, 1, START + 1))
    display.push(message(bob, 9, START - 60_000))
    release()
    display.close()
    expect(writes).toHaveLength(1)
    expect(calls()).toBe(1)
  })

  it('writes nothing once the node says its data dir failed', () => {
    let failed: Error | undefined
    const { display, writes, calls } = failing(99, () => failed)
    display.push(message(alice, 1, START + 1))
    expect(writes).toHaveLength(1)
    failed = new Error('the disk holding the data dir is full')
    display.push(message(alice, 2, START + 2))
    display.close()
    expect(writes).toHaveLength(1)
    expect(calls()).toBe(1)
  })
})

describe('message display: a write announced before it is made', () => {
  function announced(fail = false) {
    const calls: string[] = []
    const target: LineTarget = {
      kind: 'lines',
      format: (m) => `<${m.from.name}> ${m.body}`,
      formatRun: (r) => r.bodies.map((body) => `<${r.from.name}> ${body}`).join('\n'),
      write: (t) => calls.push(`write ${JSON.stringify(t)}`),
      catchUp: (count) => calls.push(`catch-up ${count}`),
    }
    const shown = new MessageDisplay({ target, now: () => START })
    const seqs = (m: ReadonlyMap<string, number>) =>
      [...m].map(([id, seq]) => `${id.slice(0, 1)}${seq}`).join(',')
    shown.bind({
      markShown: (m) => calls.push(`mark ${seqs(m)}`),
      intendShown: (m, text) => {
        calls.push(`intend ${seqs(m)} ${JSON.stringify(text)}`)
        return !fail
      },
    })
    return { shown, calls }
  }

  it('announces each write with its exact text and the marks it earns, then writes, then marks', () => {
    const { shown, calls } = announced()
    shown.push(message(alice, 1, START + 1, 'hi'))
    shown.push({
      type: 'lines',
      from: bob,
      firstSeq: 4,
      idPrefix: 'b-',
      ts: START + 2,
      bodies: ['one', 'two'],
    } as NodeEvent)
    shown.push(message(bob, 2, START - 60_000, 'old'))
    shown.close()
    expect(calls).toEqual([
      'intend a1 "<alice> hi\\n"',
      'write "<alice> hi\\n"',
      'mark a1',
      'intend b5 "<bob> one\\n<bob> two\\n"',
      'write "<bob> one\\n<bob> two\\n"',
      'mark b5',
      'catch-up 1',
      'intend b2 "<bob> old\\n"',
      'write "<bob> old\\n"',
      'mark b2',
    ])
  })

  it('writes nothing, then or later, once an announcement could not be made', () => {
    const { shown, calls } = announced(true)
    shown.push(message(alice, 1, START + 1, 'hi'))
    shown.push(message(alice, 2, START + 2, 'again'))
    shown.close()
    expect(calls).toEqual(['intend a1 "<alice> hi\\n"'])
  })
})

describe('a line sent in parts (more)', () => {
  const part = (from: PeerInfo, seq: number, body: string, more = false): NodeEvent => ({
    type: 'message',
    id: `${from.name}-${seq}`,
    seq,
    ts: Date.now(),
    from,
    body,
    ...(more ? { more: true as const } : {}),
  })

  /** A display writing to a pipe or file: it can leave a line open (`continued`), or not (a terminal). */
  function display(continues = true) {
    const writes: string[] = []
    const marks: Map<string, number>[] = []
    const target: LineTarget = {
      kind: 'lines',
      format: (m) => `<${m.from.name}> ${m.body}`,
      formatRun: (r) => r.bodies.map((body) => `<${r.from.name}> ${body}`).join('\n'),
      ...(continues ? { continued: (m: ShownMessage) => m.body } : {}),
      write: (t) => writes.push(t),
      catchUp: () => undefined,
    }
    const shown = new MessageDisplay({ target })
    shown.bind({ markShown: (m) => marks.push(new Map(m)) })
    return { shown, writes, marks }
  }

  it('writes each part as it comes, without buffering, and the last part ends the one line', () => {
    const { shown, writes, marks } = display()
    shown.push(part(alice, 1, 'aaa', true))
    // Written and marked before the next part comes: nothing waits for it.
    expect(writes).toEqual(['<alice> aaa'])
    expect(marks).toEqual([new Map([[alice.id, 1]])])
    shown.push(part(alice, 2, 'bbb', true))
    shown.push(part(alice, 3, 'ccc'))
    shown.push(part(alice, 4, 'next line'))
    expect(writes.join('')).toBe('<alice> aaabbbccc\n<alice> next line\n')
    // A mark per write: one that falls inside the line covers only the parts written.
    expect(marks.map((m) => m.get(alice.id))).toEqual([1, 2, 3, 4])
  })

  it("ends an open line before another sender's message, so no line holds two senders", () => {
    const { shown, writes } = display()
    shown.push(part(alice, 1, 'aaa', true))
    shown.push(part(bob, 1, 'hello'))
    // Alice's next part no longer continues a line: it starts one of its own, under her name.
    shown.push(part(alice, 2, 'bbb'))
    expect(writes.join('')).toBe('<alice> aaa\n<bob> hello\n<alice> bbb\n')
  })

  it('ends a line whose next part never comes when it is closed, and marks nothing for the newline', () => {
    const { shown, writes, marks } = display()
    shown.push(part(alice, 1, 'aaa', true))
    shown.close()
    expect(writes.join('')).toBe('<alice> aaa\n')
    // The newline only says the output is no longer inside a line.
    expect(marks).toEqual([new Map([[alice.id, 1]]), new Map()])
  })

  it('says with each mark whether its write left the output inside a line', () => {
    const inside: boolean[] = []
    const shown = new MessageDisplay({
      target: {
        kind: 'lines',
        format: (m) => `<${m.from.name}> ${m.body}`,
        continued: (m) => m.body,
        write: () => undefined,
        catchUp: () => undefined,
      },
    })
    shown.bind({ markShown: (_, insideLine) => inside.push(insideLine === true) })
    shown.push(part(alice, 1, 'aaa', true))
    shown.push(part(alice, 2, 'bbb', true))
    shown.push(part(alice, 3, 'ccc'))
    shown.push(part(alice, 4, 'ddd', true))
    shown.close()
    expect(inside).toEqual([true, true, false, true, false])
  })

  it('ends first the line the last run left open on this output, and only once', () => {
    for (const continues of [true, false]) {
      const writes: string[] = []
      const shown = new MessageDisplay({
        target: {
          kind: 'lines',
          format: (m) => `<${m.from.name}> ${m.body}`,
          ...(continues ? { continued: (m: ShownMessage) => m.body } : {}),
          write: (t) => writes.push(t),
          catchUp: () => undefined,
        },
      })
      shown.bind({ markShown: () => true, leftInsideLine: true })
      // Nothing continues it: the rest of that line comes again under its sender's name.
      shown.push(part(alice, 1, 'aaa'))
      shown.push(part(alice, 2, 'bbb'))
      expect(writes.join('')).toBe('\n<alice> aaa\n<alice> bbb\n')
    }
  })

  it('ends the line the last run left open when it closes, even having shown nothing', () => {
    const writes: string[] = []
    const marks: Map<string, number>[] = []
    const shown = new MessageDisplay({
      target: {
        kind: 'lines',
        format: (m) => m.body,
        write: (t) => writes.push(t),
        catchUp: () => undefined,
      },
    })
    shown.bind({ markShown: (m) => marks.push(new Map(m)), leftInsideLine: true })
    shown.close()
    expect(writes).toEqual(['\n'])
    expect(marks).toEqual([new Map()])
  })

  it('holds no more for a sender that says more for ever than it writes, a part at a time', () => {
    const { shown, writes } = display()
    for (let seq = 1; seq <= 1_000; seq++) shown.push(part(alice, seq, 'x'.repeat(100), true))
    expect(writes).toHaveLength(1_000)
    expect(writes.join('')).toBe(`<alice> ${'x'.repeat(100_000)}`)
  })

  it('starts a line again for a part that does not follow the open one (a gap in seqs)', () => {
    const { shown, writes } = display()
    shown.push(part(alice, 1, 'aaa', true))
    shown.push(part(alice, 3, 'ccc'))
    expect(writes.join('')).toBe('<alice> aaa\n<alice> ccc\n')
  })

  it('writes each part as a line of its own when the target cannot continue a line (a terminal)', () => {
    const { shown, writes } = display(false)
    shown.push(part(alice, 1, 'aaa', true))
    shown.push(part(alice, 2, 'bbb'))
    shown.close()
    expect(writes.join('')).toBe('<alice> aaa\n<alice> bbb\n')
  })

  it('continues the last line of a message of lines, and a run after an open line', () => {
    const { shown, writes, marks } = display()
    shown.push({
      type: 'lines',
      from: alice,
      firstSeq: 1,
      idPrefix: 'alice-1',
      ts: Date.now(),
      bodies: ['one', 'two', 'the start'],
      oneMessage: true,
      more: true,
    })
    shown.push({
      type: 'lines',
      from: alice,
      firstSeq: 2,
      idPrefix: 'alice-2',
      ts: Date.now(),
      bodies: [' and the end', 'after'],
      oneMessage: true,
    })
    expect(writes.join('')).toBe('<alice> one\n<alice> two\n<alice> the start and the end\n<alice> after\n')
    expect(marks.map((m) => m.get(alice.id))).toEqual([1, 2])
  })

  /** A display that shows actions as `* name text`, on a pipe (`continued`) or on a terminal. */
  function actions(continues: boolean) {
    const writes: string[] = []
    const target: LineTarget = {
      kind: 'lines',
      format: (m) => (m.action === undefined ? `<${m.from.name}> ${m.body}` : `* ${m.from.name} ${m.action}`),
      ...(continues ? { continued: (m: ShownMessage) => m.action ?? m.body } : {}),
      write: (t) => writes.push(t),
      catchUp: () => undefined,
    }
    const shown = new MessageDisplay({ target })
    shown.bind({ markShown: () => true })
    return { shown, out: () => writes.join('') }
  }
  // Made when a test runs, not when the file loads: a message dated more than the clock slack before its
  // display was made is catch-up, which a busy machine's wait between loading and running would make it.
  const action = () => [
    part(alice, 1, '\u0001ACTION waves', true),
    part(alice, 2, ' on', true),
    part(alice, 3, ' and on\u0001'),
  ]

  it("gives an action's later parts its text, shown as the action on a terminal, with no control character", () => {
    const terminal = actions(false)
    for (const event of action()) terminal.shown.push(event)
    expect(terminal.out()).toBe('* alice waves\n* alice  on\n* alice  and on\n')
    const pipe = actions(true)
    for (const event of action()) pipe.shown.push(event)
    expect(pipe.out()).toBe('* alice waves on and on\n')
  })

  it("keeps an action's next part an action after another sender's message between its parts", () => {
    for (const continues of [false, true]) {
      const { shown, out } = actions(continues)
      const parts = action()
      shown.push(parts[0] as NodeEvent)
      shown.push(part(bob, 1, 'hi'))
      shown.push(parts[1] as NodeEvent)
      shown.push(parts[2] as NodeEvent)
      const rest = continues ? '* alice  on and on\n' : '* alice  on\n* alice  and on\n'
      expect(out()).toBe(`* alice waves\n<bob> hi\n${rest}`)
    }
  })

  it('takes a later part of a plain line as text, whatever it starts with, and a part after a gap as its own', () => {
    const { shown, out } = actions(false)
    shown.push(part(alice, 1, 'aaa', true))
    shown.push(part(alice, 2, '\u0001ACTION not one\u0001'))
    shown.push(part(alice, 3, '\u0001ACTION waves', true))
    shown.push(part(alice, 5, 'the rest\u0001'))
    expect(out()).toBe(
      '<alice> aaa\n<alice> \u0001ACTION not one\u0001\n* alice waves\n<alice> the rest\u0001\n',
    )
  })

  it('tells a frame target which parts go on with a line, an action part with its text', () => {
    const frames: ShownMessage[] = []
    const shown = new MessageDisplay({ target: { kind: 'frames', show: (m) => frames.push(...m) } })
    shown.bind({ markShown: () => true })
    for (const event of action()) shown.push(event)
    expect(frames.map((m) => [m.action, m.continues ?? false])).toEqual([
      ['waves', false],
      [' on', true],
      [' and on', true],
    ])
  })

  it('joins the parts of a catch-up into one line as well, and ends it before the next sender', () => {
    let now = START
    const writes: string[] = []
    const display = new MessageDisplay({
      target: {
        kind: 'lines',
        format: (m) => `<${m.from.name}> ${m.body}`,
        continued: (m) => m.body,
        write: (t) => writes.push(t),
        catchUp: () => undefined,
      },
      now: () => now,
      schedule: () => ({ cancel: () => undefined }),
    })
    display.bind({ markShown: () => true })
    const old = (from: PeerInfo, seq: number, body: string, more?: true): NodeEvent => ({
      type: 'message',
      id: `${from.name}-${seq}`,
      seq,
      ts: START - 60_000 + seq,
      from,
      body,
      replayed: true,
      ...(more ? { more } : {}),
    })
    display.push(old(alice, 1, 'aaa', true))
    display.push(old(alice, 2, 'bbb'))
    display.push(old(bob, 10, 'hi', true))
    now += 1
    display.close()
    expect(writes.join('')).toBe('<alice> aaabbb\n<bob> hi\n')
  })
})

describe('a file as output, left inside a line by a run that was killed between two parts', () => {
  it('gets its line ended before this run writes anything, and a file that ends its lines is left as it is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-torn-'))
    try {
      for (const [before, after] of [
        ['<alice> the start of a long line', '<alice> the start of a long line\n'],
        ['<alice> whole\n', '<alice> whole\n'],
        ['', ''],
      ]) {
        const file = join(dir, 'out.txt')
        writeFileSync(file, before as string)
        // As `parley >> out.txt` has it: stdout open for appending only.
        const fd = openSync(file, 'a')
        try {
          streamLines(
            { fd, write: () => true } as unknown as NodeJS.WritableStream,
            (m) => m.body,
            () => {},
          )
          expect(readFileSync(file, 'utf8')).toBe(after)
        } finally {
          closeSync(fd)
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
