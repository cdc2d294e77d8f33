import { describe, expect, it } from 'vitest'
import { DropDigest, isMemberNews, memberNewsDigest } from './drop-digest.js'
import type { StatusLine } from './session.js'

function digest(burst = 2, windowMs = 1_000) {
  let now = 0
  const shown: string[] = []
  const timers: { at: number; run: () => void }[] = []
  const drops = new DropDigest((line: StatusLine) => shown.push(line.text), {
    burst,
    windowMs,
    log: '/data/parley.log',
    now: () => now,
    schedule: (run, ms) => timers.push({ at: now + ms, run }),
  })
  const line = (n: number): StatusLine => ({ level: 'warn', text: `drop ${n}` })
  const advance = (to: number) => {
    now = to
    for (const timer of timers.splice(0)) {
      if (timer.at <= now) timer.run()
      else timers.push(timer)
    }
  }
  return { drops, shown, line, advance }
}

describe('DropDigest', () => {
  it('shows every drop while they are few', () => {
    const { drops, shown, line, advance } = digest()
    drops.push(line(1))
    advance(1_500)
    drops.push(line(2))
    advance(3_000)
    drops.push(line(3))
    expect(shown).toEqual(['drop 1', 'drop 2', 'drop 3'])
  })

  it('shows the first few of a storm, then one line for the rest when the window ends', () => {
    const { drops, shown, line, advance } = digest()
    for (let n = 1; n <= 500; n++) drops.push(line(n))
    expect(shown).toEqual(['drop 1', 'drop 2'])
    advance(1_000)
    expect(shown).toEqual([
      'drop 1',
      'drop 2',
      '498 more connection(s) dropped in the last 1 s; each one is in /data/parley.log',
    ])
    // A new window starts afresh.
    drops.push(line(501))
    expect(shown.at(-1)).toBe('drop 501')
  })

  it('sums up a window whose timer did not run before the next drop is shown', () => {
    const shown: string[] = []
    let now = 0
    const drops = new DropDigest((l) => shown.push(l.text), {
      burst: 1,
      windowMs: 1_000,
      now: () => now,
      schedule: () => undefined,
    })
    for (const [at, n] of [
      [0, 1],
      [600, 2],
      [1_200, 3],
    ] as const) {
      now = at
      drops.push({ level: 'warn', text: `drop ${n}` })
    }
    expect(shown).toEqual(['drop 1', '1 more connection(s) dropped in the last 1 s', 'drop 3'])
  })
})

/** A member-news digest on a clock the test moves: `endWindow()` moves it 10 s on and runs what was due. */
function newsDigest() {
  let now = 0
  const shown: string[] = []
  const timers: (() => void)[] = []
  const news = memberNewsDigest((l) => shown.push(l.text), {
    now: () => now,
    schedule: (run) => timers.push(run),
  })
  const endWindow = () => {
    now += 10_000
    for (const run of timers.splice(0)) run()
  }
  return { news, shown, endWindow }
}

describe('memberNewsDigest', () => {
  it('shows 20 lines of members coming and going in a window, then counts the rest in one line', () => {
    const { news, shown, endWindow } = newsDigest()
    // A stranger renaming in a loop: each rename would be a WARNING line.
    for (let n = 1; n <= 1_000; n++) news.push({ level: 'warn', text: `WARNING: m now calls itself m${n}` })
    expect(shown).toHaveLength(20)
    endWindow()
    expect(shown.at(-1)).toBe(
      '980 more WARNING(s) of look-alike names and renames in the last 10 s; /peers lists who is there',
    )
  })

  it('keeps room for warnings however many other lines came first', () => {
    const { news, shown } = newsDigest()
    for (let n = 0; n < 50; n++)
      news.push({ level: 'info', text: `m${n} is in the room (through another member)` })
    news.push({ level: 'warn', text: 'bоb [abcd-efgh] is in the room; WARNING: its name "bоb" reads as …' })
    expect(shown).toHaveLength(21)
    expect(shown.at(-1)).toContain('WARNING')
  })

  it("holds peers' claims of more of our stream (forked) to a few lines, apart from the rest", () => {
    const { news, shown, endWindow } = newsDigest()
    // A throwaway key per claim: each is a paragraph in this node's own voice.
    for (let n = 0; n < 1_000; n++)
      news.push(
        { level: 'warn', text: `k${n} [abcd-efgh] says it has your messages up to #999999, …` },
        'forked',
      )
    expect(shown).toHaveLength(5)
    // They leave room for the lines of members coming and going.
    news.push({ level: 'info', text: 'connected to bob [abcd-efgh]' }, 'connected')
    expect(shown.at(-1)).toBe('connected to bob [abcd-efgh]')
    endWindow()
    expect(shown.at(-1)).toBe(
      '995 more peer(s) in the last 10 s said they have more of your messages than this data dir holds; none of yours goes to them in this run',
    )
  })

  it('holds reports of two nodes with one key (same-key) to a few lines, apart from the rest', () => {
    const { news, shown } = newsDigest()
    // A throwaway key per report, each made with three links.
    for (let n = 0; n < 100; n++)
      news.push({ level: 'warn', text: `two nodes are running with k${n}'s key [abcd-efgh]: …` }, 'same-key')
    expect(shown).toHaveLength(5)
    expect(isMemberNews({ type: 'same-key' })).toBe(true)
    news.push({ level: 'info', text: 'connected to bob [abcd-efgh]' }, 'connected')
    expect(shown.at(-1)).toBe('connected to bob [abcd-efgh]')
  })

  it('is what the connected, disconnected, member and forked events are held to', () => {
    expect(['connected', 'disconnected', 'member', 'forked'].every((type) => isMemberNews({ type }))).toBe(
      true,
    )
    expect(['message', 'link-error', 'peer-state', 'throttled'].some((type) => isMemberNews({ type }))).toBe(
      false,
    )
  })
})
