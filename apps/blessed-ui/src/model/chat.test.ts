import { createHash } from 'node:crypto'
import { MAX_BODY_LENGTH, type NodeEvent, type PeerInfo } from '@parley/core'
import { describeEvent, type LinkRoute, shortId } from '@parley/launcher'
import { describe, expect, it } from 'vitest'
import type { KeyEvent } from '../input/key-decoder.js'
import { graphemeWidth } from '../text/width.js'
import { ChatModel, MAX_SENDERS, nickColour } from './chat.js'
import { rowText } from './rows.js'

const alice: PeerInfo = { id: 'a'.repeat(32), name: 'alice' }
const bob: PeerInfo = { id: 'b'.repeat(32), name: 'bob' }

function setup(awayAfterMs = 60_000, cap?: number) {
  let now = 1_000_000
  const model = new ChatModel({
    self: alice,
    width: graphemeWidth(),
    now: () => now,
    time: () => '12:00:00',
    awayAfterMs,
    ...(cap === undefined ? {} : { cap }),
  })
  return {
    model,
    advance: (ms: number) => {
      now += ms
    },
    type: (text: string) => model.key({ type: 'text', text }),
    press: (name: string) => model.key({ type: 'key', name }),
    receive: (body: string, from = bob) =>
      model.nodeEvent({ type: 'message', id: 'x', seq: 1, ts: now, from, body } as NodeEvent),
    screen: (cols = 60, rows = 10) => {
      const frame = model.frame(cols, rows)
      return {
        ...frame,
        lines: frame.messages.map(rowText),
        status: rowText(frame.status),
        input: rowText(frame.input),
      }
    },
  }
}

describe('chat model', () => {
  it('shows a received line with a timestamp and the sender name in its own colour', () => {
    const { receive, screen, model } = setup()
    receive('hello alice? no, hello everyone')
    expect(screen().lines[0]).toBe('12:00:00 <bob> hello alice? no, hello everyone')
    const nick = model.frame(60, 10).messages[0]!.find((s) => s.text === '<bob> ')
    expect(nick?.style).toEqual({ kind: 'nick', colour: nickColour(bob.id) })
  })

  it('gives a peer the same colour every time, and different peers (usually) different ones', () => {
    expect(nickColour(bob.id)).toBe(nickColour(bob.id))
    const ids = Array.from({ length: 24 }, (_, i) =>
      createHash('sha256').update(String(i)).digest('hex').slice(0, 32),
    )
    expect(new Set(ids.map(nickColour)).size).toBeGreaterThan(6)
  })

  it('sends a typed line on Enter and shows it set apart as our own', () => {
    const { type, press, screen, model } = setup()
    type('hi bob')
    expect(press('enter')).toEqual([{ type: 'send', bodies: ['hi bob'] }])
    expect(screen().lines[0]).toBe('12:00:00 <alice> hi bob')
    expect(model.frame(60, 10).messages[0]![1]!.style).toEqual({ kind: 'own' })
    expect(screen().input).toBe('> ')
  })

  it('sends a paste with a line longer than a message in parts, each saying whether its line goes on', () => {
    const { model, press } = setup()
    const long = 'z'.repeat(25_000)
    model.key({ type: 'paste', text: `before\n${long}\nafter` })
    const [effect] = press('enter') as [{ type: 'send'; bodies: string[]; goOn?: boolean[] }]
    expect(effect.bodies.map((b) => b.length)).toEqual([6, 10_000, 10_000, 5_006])
    expect(effect.goOn).toEqual([false, true, true, false])
  })

  it('sends a multi-line paste as one message', () => {
    const { model, press, screen } = setup()
    model.key({ type: 'paste', text: 'line1\nline2\nline3' })
    expect(screen().input).toBe('> line1↵line2↵line3')
    expect(press('enter')).toEqual([{ type: 'send', bodies: ['line1\nline2\nline3'] }])
    expect(screen().lines.slice(0, 3)).toEqual([
      '12:00:00 <alice> line1',
      '                 line2',
      '                 line3',
    ])
  })

  it('sends a paste too long for one message in parts cut between lines, each shown as sent', () => {
    const { model, press, screen } = setup()
    const lines = Array.from(
      { length: 3000 },
      (_, i) => `${String(i).padStart(4, '0')} ${'word '.repeat(10)}end.`,
    )
    model.key({ type: 'paste', text: `${lines.join('\n')}\n` })
    const [effect, ...rest] = press('enter')
    expect(rest).toEqual([])
    if (effect?.type !== 'send') throw new Error(`not a send: ${JSON.stringify(effect)}`)
    expect(effect.bodies.length).toBeGreaterThan(1)
    expect(effect.bodies.join('\n')).toBe(lines.join('\n'))
    for (const body of effect.bodies) {
      expect(body.length).toBeLessThanOrEqual(MAX_BODY_LENGTH)
      expect(body).toMatch(/^\d{4} word .* end\.$/s)
    }
    expect(screen(200, 3).lines.at(-1)).toBe(`                 ${lines.at(-1)}`)
    expect(model.list.size).toBe(effect.bodies.length)
  })

  it('sends a long /me in parts that are each an action', () => {
    const { type, press } = setup()
    type(`/me ${'dances '.repeat(2000)}`)
    const [effect] = press('enter')
    if (effect?.type !== 'send') throw new Error(`not a send: ${JSON.stringify(effect)}`)
    expect(effect.bodies.length).toBe(2)
    for (const body of effect.bodies) {
      expect(body.length).toBeLessThanOrEqual(MAX_BODY_LENGTH)
      expect(body).toMatch(/^\u0001ACTION dances [a-z ]*\u0001$/)
    }
  })

  it('never sends an unknown command: one hint line instead', () => {
    const { type, press, screen } = setup()
    type('/frob')
    expect(press('enter')).toEqual([])
    expect(screen(200).lines[0]).toMatch(/^12:00:00 -- unknown command \/frob/)
  })

  it('turns /me into an action line and a CTCP ACTION body', () => {
    const { type, press, screen, receive } = setup()
    type('/me waves')
    expect(press('enter')).toEqual([{ type: 'send', bodies: ['\u0001ACTION waves\u0001'] }])
    receive('\u0001ACTION waves back\u0001')
    expect(screen().lines.slice(0, 2)).toEqual(['12:00:00  * alice waves', '12:00:00  * bob waves back'])
  })

  it('renames with /nick and quits with /quit or Ctrl-C', () => {
    const { type, press, model } = setup()
    type('/nick carol')
    expect(press('enter')).toEqual([{ type: 'rename', name: 'carol' }])
    expect(model.name).toBe('carol')
    type('/quit')
    expect(press('enter')).toEqual([{ type: 'quit' }])
    expect(press('C-c')).toEqual([{ type: 'quit' }])
    type('/quit see you')
    expect(press('enter')).toEqual([{ type: 'quit', reason: 'see you' }])
  })

  it('clears the pane with /clear', () => {
    const { type, press, screen, receive } = setup()
    receive('old')
    type('/clear')
    press('enter')
    expect(screen().lines.every((l) => l === '')).toBe(true)
  })

  it('rings the bell when someone says our name, and highlights the line', () => {
    const { receive, model } = setup()
    expect(receive('ping Alice, you there?')).toEqual([{ type: 'bell' }])
    expect(receive('nothing for you')).toEqual([])
    const rows = model.frame(60, 10).messages
    expect(rows[0]!.at(-1)!.style).toEqual({ kind: 'mention' })
  })

  it('completes names with Tab and cycles through candidates', () => {
    const { type, press, receive, model } = setup()
    receive('hi', bob)
    receive('hi', { id: 'c'.repeat(32), name: 'bea' })
    type('b')
    press('tab')
    expect(model.input.text).toBe('bea: ')
    press('tab')
    expect(model.input.text).toBe('bob: ')
  })

  it('completes names that look alike with their fingerprints, so Tab never cycles between two same-looking names', () => {
    const { type, press, receive, model } = setup()
    const lookalike = { id: 'd'.repeat(64), name: 'b\u043eb' }
    receive('hi', bob)
    receive('hi', lookalike)
    type('b')
    const picked = new Set<string>()
    for (let i = 0; i < 2; i++) {
      press('tab')
      picked.add(model.input.text)
    }
    // Both are offered, each with its fingerprint: `bob: ` and `bоb: ` alone would look the same.
    expect(picked.size).toBe(2)
    for (const text of picked) expect(text).toMatch(/^b[o\u043e]b~\S+: $/)
  })

  it('completes a member that renamed itself by its new name only', () => {
    const { type, press, receive, model } = setup()
    const carol = { id: 'c'.repeat(32), name: 'carol' }
    receive('hi', carol)
    receive('call me carrie', { ...carol, name: 'carrie' })
    type('car')
    press('tab')
    // A key seen under two names carries its fingerprint, as after a told rename.
    const completed = model.input.text
    expect(completed).toMatch(/^carrie~\S+: $/)
    press('tab')
    expect(model.input.text).toBe(completed)
  })

  it('completes the names of the latest MAX_SENDERS who spoke: a flood of new keys does not grow it', () => {
    const { type, press, receive, model } = setup()
    const stranger = (i: number) => ({ id: i.toString(16).padStart(32, '0'), name: `x${i}` })
    receive('hi', bob)
    receive('hi', { id: 'c'.repeat(32), name: 'bea' })
    for (let i = 0; i < MAX_SENDERS - 2; i++) receive('spam', stranger(i))
    receive('still here', bob)
    receive('spam', stranger(MAX_SENDERS))
    // Bea spoke longest ago and went past the bound; bob spoke again, so he stays.
    type('b')
    press('tab')
    expect(model.input.text).toBe('bob: ')
    press('tab')
    expect(model.input.text).toBe('bob: ')
  })

  it('shows a "new below" marker while scrolled up, with the count', () => {
    const { receive, press, screen } = setup()
    for (let i = 0; i < 30; i++) receive(`m${i}`)
    press('pageup')
    receive('late 1')
    receive('late 2')
    const s = screen()
    expect(s.lines.at(-1)).toMatch(/2 new below · PgDn/)
    press('pagedown')
    press('pagedown')
    expect(screen().lines.at(-1)).toBe('12:00:00 <bob> late 2')
  })

  it('counts what is new below as status lines count, with thousands separated', () => {
    const { receive, press, screen } = setup()
    for (let i = 0; i < 30; i++) receive(`m${i}`)
    press('pageup')
    for (let i = 0; i < 1_234; i++) receive(`late ${i}`)
    expect(screen().lines.at(-1)).toMatch(/ 1,234 new below · PgDn /)
  })

  it('goes to the oldest entry in one key (C-Home, M-<), and back to the newest with C-End', () => {
    const { receive, press, screen } = setup()
    for (let i = 0; i < 300; i++) receive(`m${i}`)
    screen()
    press('C-home')
    expect(screen().lines.some((l) => l.endsWith('<bob> m0'))).toBe(true)
    press('C-end')
    expect(screen().lines.some((l) => l.endsWith('<bob> m299'))).toBe(true)
    press('M-<')
    expect(screen().lines.some((l) => l.endsWith('<bob> m0'))).toBe(true)
  })

  it('puts a read marker before the first message that arrives while the terminal is unfocused', () => {
    const { receive, model, screen } = setup()
    receive('seen')
    model.key({ type: 'focus', focused: false })
    receive('unseen 1')
    receive('unseen 2')
    expect(
      screen()
        .lines.slice(0, 4)
        .map((l) => l.replace(/─+/g, '─')),
    ).toEqual([
      '12:00:00 <bob> seen',
      '─ new since 12:00 ─',
      '12:00:00 <bob> unseen 1',
      '12:00:00 <bob> unseen 2',
    ])
  })

  it('moves the read marker after a later time away, counting idle time as away', () => {
    const { receive, model, screen, advance, type } = setup(60_000)
    receive('one')
    advance(61_000)
    receive('two')
    type('x')
    receive('three')
    advance(61_000)
    receive('four')
    const lines = screen().lines.filter((l) => l !== '')
    expect(lines.map((l) => (l.startsWith('─') ? 'MARKER' : l))).toEqual([
      '12:00:00 <bob> one',
      '12:00:00 <bob> two',
      '12:00:00 <bob> three',
      'MARKER',
      '12:00:00 <bob> four',
    ])
    expect(model.list.size).toBe(6)
  })

  it('says how connected we are in the status bar', () => {
    const { model, screen } = setup()
    model.nodeEvent({ type: 'listening', address: '127.0.0.1:4001' })
    expect(screen(80).status).toMatch(/^ listening +│ alice @ 127.0.0.1:4001/)
    model.nodeEvent({
      type: 'peer-state',
      target: '127.0.0.1:4002',
      state: { status: 'connecting', attempt: 1, dialing: true },
    })
    expect(screen(80).status).toMatch(/^ dialing {2}127.0.0.1:4002 │ alice @ 127.0.0.1:4001/)
    model.nodeEvent({
      type: 'connected',
      peer: bob,
      address: '127.0.0.1:4002',
      direction: 'outbound',
    } as NodeEvent)
    model.setUndelivered(2)
    expect(screen(80).status).toMatch(
      /^ connected {2}bob 127.0.0.1:4002 │ alice @ 127.0.0.1:4001 │ 2 undelivered/,
    )
    expect(screen(80).status).toHaveLength(80)
    model.nodeEvent({ type: 'disconnected', peer: bob, reason: 'gone' })
    model.nodeEvent({
      type: 'peer-state',
      target: '127.0.0.1:4002',
      state: { status: 'reconnecting', attempt: 1, dialing: true, peer: bob },
    })
    expect(screen(80).status).toMatch(/^ reconnecting {2}bob 127.0.0.1:4002/)
  })

  describe('links over the DHT', () => {
    const dave: PeerInfo = { id: 'd'.repeat(64), name: 'dave' }
    const erin: PeerInfo = { id: 'e'.repeat(64), name: 'erin' }
    const relayKey = 'f'.repeat(64)
    const byKey = (peer: PeerInfo) =>
      ({ type: 'connected', peer, address: `dht:${peer.id}`, direction: 'outbound' }) as NodeEvent

    it('says how each link was made, in the pane, the status bar and /peers', () => {
      const { model, screen } = setup()
      model.nodeEvent({ type: 'listening', address: `dht:${'a'.repeat(64)}` })
      expect(screen(120).status).toMatch(/│ alice @ DHT key \[[a-z2-7]{4}-[a-z2-7]{4}\]/)
      model.nodeEvent(byKey(dave), { kind: 'holepunched', remoteHost: '198.51.100.7', remotePort: 40123 })
      model.nodeEvent(byKey(erin), {
        kind: 'relayed',
        relayKey,
        relayHost: '203.0.113.1',
        relayPort: 49737,
      })
      model.nodeEvent(
        { type: 'connected', peer: bob, address: '127.0.0.1:4002', direction: 'outbound' } as NodeEvent,
        { kind: 'tcp' },
      )
      const lines = screen(200, 12).lines
      expect(lines).toContainEqual(
        expect.stringMatching(
          /^12:00:00 -- connected to dave \[[a-z2-7-]+\] over the DHT \(holepunched; its address as seen through its NAT: 198\.51\.100\.7:40123\)$/,
        ),
      )
      expect(lines).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `-- connected to erin \\[[a-z2-7-]+\\] over the DHT \\(relayed through ${relayKey}; still end-to-end encrypted\\)$`,
          ),
        ),
      )
      expect(lines).toContainEqual('12:00:00 -- connected to bob [bbbbbbbbb] at 127.0.0.1:4002 (direct TCP)')
      expect(screen(120).status).toMatch(
        /^ connected {2}dave DHT, holepunched, seen at 198\.51\.100\.7:40123 \(\+2\)/,
      )
      model.setMembers([
        { peer: dave, direct: true, connected: true, address: `dht:${dave.id}` },
        { peer: erin, direct: true, connected: true, address: `dht:${erin.id}` },
        { peer: bob, direct: true, connected: true, address: '127.0.0.1:59404', listen: '127.0.0.1:4002' },
      ])
      model.listMembers()
      const listed = screen(200, 12).lines.filter(Boolean).slice(-3)
      expect(listed[0]).toMatch(
        /^12:00:00 -- dave \[[a-z2-7-]+\] direct, connected \(holepunched; its address as seen through its NAT: 198\.51\.100\.7:40123\)$/,
      )
      expect(listed[1]).toMatch(/erin \[[a-z2-7-]+\] direct, connected \(relayed through f{64}; /)
      expect(listed[2]).toBe('12:00:00 -- bob [bbbbbbbbb] direct, connected at 127.0.0.1:4002 (direct TCP)')
    })

    it('shows a key being dialed by its short fingerprint, not its 64 hex digits', () => {
      const { model, screen } = setup()
      model.nodeEvent({
        type: 'peer-state',
        target: `dht:${dave.id}`,
        state: { status: 'connecting', attempt: 1, dialing: true },
      })
      expect(screen(80).status).toMatch(/^ dialing {2}DHT key \[[a-z2-7]{4}-[a-z2-7]{4}\] │/)
    })
  })

  it('writes system lines for joins, leaves and errors in the launcher wording', () => {
    const { model, screen } = setup()
    const joined = {
      type: 'connected',
      peer: bob,
      address: '127.0.0.1:4002',
      direction: 'inbound',
    } as NodeEvent
    const left = { type: 'disconnected', peer: bob, reason: 'bob left (quit)', left: true } as NodeEvent
    const lost = { type: 'disconnected', peer: bob, reason: 'connection reset' } as NodeEvent
    model.nodeEvent(joined)
    model.nodeEvent(left)
    model.nodeEvent(lost)
    // A peer that said it leaves is news; a link that failed is a warning.
    expect(screen(200).lines.slice(0, 3)).toEqual([
      `12:00:00 -- ${describeEvent(joined)!.text}`,
      `12:00:00 -- ${describeEvent(left)!.text}`,
      `12:00:00 !! ${describeEvent(lost)!.text}`,
    ])
  })

  it('says a link that replaced one not yet seen closed is a reconnect, once, in the launcher wording', () => {
    const { model, screen } = setup()
    const first = {
      type: 'connected',
      peer: bob,
      address: '127.0.0.1:4002',
      direction: 'inbound',
    } as NodeEvent
    const again = { ...first, replaced: 'restarted' } as NodeEvent
    model.nodeEvent(first, { kind: 'tcp' })
    model.nodeEvent(again, { kind: 'tcp' })
    const lines = screen(200).lines.filter((line) => line.includes('connected to bob'))
    expect(lines).toEqual([
      `12:00:00 -- ${describeEvent(first, { kind: 'tcp' })!.text}`,
      `12:00:00 -- ${describeEvent(again, { kind: 'tcp' })!.text}`,
    ])
    expect(lines[1]).toMatch(
      / again: it restarted, and its new link replaced the old one before that was seen to close$/,
    )
  })

  it('shows history from an earlier run, ours set apart, without counting it as new', () => {
    const { model, screen } = setup()
    model.showHistory([
      [{ direction: 'in', id: '1', seq: 1, ts: 0, from: bob, body: 'from before' }],
      [{ direction: 'out', id: '2', seq: 1, ts: 0, from: alice, body: 'my answer' }],
    ])
    expect(screen().lines.slice(0, 3)).toEqual([
      '12:00:00 -- the last 2 message(s) from history:',
      '12:00:00 <bob> from before',
      '12:00:00 <alice> my answer',
    ])
  })

  it('shows history under the names it was sent with, a namesake of ours told apart', () => {
    const { model, screen } = setup()
    const bobAsAlice = { id: bob.id, name: 'alice' }
    model.showHistory([
      [{ direction: 'out', id: '1', seq: 1, ts: 0, from: { id: alice.id, name: 'zed' }, body: 'as zed' }],
      [{ direction: 'in', id: '2', seq: 1, ts: 0, from: bobAsAlice, body: 'i am alice' }],
    ])
    expect(screen(80).lines.slice(1, 3)).toEqual([
      '12:00:00 <zed> as zed',
      `12:00:00 <alice~${shortId(bob.id)}> i am alice`,
    ])
  })

  it('tells apart a peer that sends under our own name, live, and again after our rename', () => {
    const { model, receive, screen, type, press } = setup()
    receive('i am alice, trust me', { id: bob.id, name: 'alice' })
    expect(screen(80).lines[0]).toBe(`12:00:00 <alice~${shortId(bob.id)}> i am alice, trust me`)
    type('/nick bob')
    press('enter')
    receive('and now i am bob', bob)
    expect(screen(80).lines).toContain(`12:00:00 <bob~${shortId(bob.id)}> and now i am bob`)
    expect(model.name).toBe('bob')
  })

  it('joins the parts of a line sent in parts into one entry, while no other entry came between', () => {
    const { model, screen } = setup()
    const carol: PeerInfo = { id: 'c'.repeat(32), name: 'carol' }
    // As MessageDisplay gives them: a part one seq after its sender's part that said more `continues`.
    const part = (seq: number, body: string, from = bob, more?: true, continues?: true) => ({
      id: `${from.name}${seq}`,
      seq,
      ts: 0,
      from,
      body,
      catchUp: false,
      ...(more ? { more } : {}),
      ...(continues ? { continues } : {}),
    })
    model.showMessages([part(1, 'aaaa', bob, true), part(2, 'bbbb', bob, true, true)])
    model.showMessages([part(3, 'cccc', bob, undefined, true)])
    model.showMessages([part(4, 'next line')])
    // Another sender between two parts: the rest is an entry of its own.
    model.showMessages([
      part(5, 'dddd', bob, true),
      part(1, 'hi', carol),
      part(6, 'eeee', bob, undefined, true),
    ])
    // A part whose next part is missing ends its line: what comes next from its sender is a line of its own.
    model.showMessages([part(7, 'ffff', bob, true), part(9, 'gggg')])
    expect(screen(60).lines.slice(0, 7)).toEqual([
      '12:00:00 <bob> aaaabbbbcccc',
      '12:00:00 <bob> next line',
      '12:00:00 <bob> dddd',
      '12:00:00 <carol> hi',
      '12:00:00 <bob> eeee',
      '12:00:00 <bob> ffff',
      '12:00:00 <bob> gggg',
    ])
  })

  it("shows an action's later part that is not joined to it as an action, with no control character", () => {
    const { model, screen } = setup()
    const carol: PeerInfo = { id: 'c'.repeat(32), name: 'carol' }
    // As MessageDisplay gives them: a part that goes on with an action line carries that action's text.
    model.showMessages([
      {
        id: 'b1',
        seq: 1,
        ts: 0,
        from: bob,
        body: '\u0001ACTION waves',
        catchUp: false,
        action: 'waves',
        more: true,
      },
      { id: 'c1', seq: 1, ts: 0, from: carol, body: 'hi', catchUp: false },
      {
        id: 'b2',
        seq: 2,
        ts: 0,
        from: bob,
        body: ' on',
        catchUp: false,
        action: ' on',
        continues: true,
        more: true,
      },
      {
        id: 'b3',
        seq: 3,
        ts: 0,
        from: bob,
        body: ' and on\u0001',
        catchUp: false,
        action: ' and on',
        continues: true,
      },
    ])
    expect(screen(60).lines.slice(0, 3)).toEqual([
      '12:00:00  * bob waves',
      '12:00:00 <carol> hi',
      '12:00:00  * bob  on and on',
    ])
  })

  it('shows a line of history sent in parts as one entry, an action as one action', () => {
    const { model, screen } = setup()
    const part = (seq: number, body: string, more?: true) => ({
      direction: 'in' as const,
      id: `b${seq}`,
      seq,
      ts: 0,
      from: bob,
      body,
      ...(more ? { more } : {}),
    })
    model.showHistory([
      [part(1, 'aaaa', true), part(2, 'bbbb')],
      [part(3, '\u0001ACTION waves', true), part(4, ' on', true), part(5, ' and on\u0001')],
    ])
    expect(screen(60).lines.slice(0, 3)).toEqual([
      '12:00:00 -- the last 2 message(s) from history:',
      '12:00:00 <bob> aaaabbbb',
      '12:00:00  * bob waves on and on',
    ])
  })

  it('shows the rest of a long action of history past the bound of one entry as an action too', () => {
    const { model } = setup()
    const body = (seq: number) => (seq === 1 ? `\u0001ACTION ${'w'.repeat(9_992)}` : 'w'.repeat(10_000))
    const line = Array.from({ length: 12 }, (_, i) => ({
      direction: 'in' as const,
      id: `b${i + 1}`,
      seq: i + 1,
      ts: 0,
      from: bob,
      body: i === 11 ? 'end\u0001' : body(i + 1),
      ...(i === 11 ? {} : { more: true as const }),
    }))
    model.showHistory([line as unknown as Parameters<typeof model.showHistory>[0][number]])
    const bodies = model.list.all().flatMap((e) => (e.kind === 'message' ? [e.body] : []))
    expect(bodies.length).toBe(2)
    expect(bodies[1]).toBe(`\u0001ACTION ${'w'.repeat(10_000)}end\u0001`)
  })

  it('rings the bell and highlights a joined line whose later part, or the bound between two, says our name', () => {
    const { model } = setup()
    const part = (seq: number, body: string, more?: true) => ({
      id: `b${seq}`,
      seq,
      ts: 0,
      from: bob,
      body,
      catchUp: false,
      ...(more ? { more } : {}),
      ...(seq % 2 === 0 ? { continues: true as const } : {}),
    })
    expect(model.showMessages([part(1, 'x'.repeat(10_000), true)])).toEqual([])
    expect(model.showMessages([part(2, ' ping alice')])).toEqual([{ type: 'bell' }])
    expect(model.showMessages([part(3, `${'y'.repeat(9_997)} al`, true)])).toEqual([])
    expect(model.showMessages([part(4, 'ice, there?')])).toEqual([{ type: 'bell' }])
    const entries = model.list.all().filter((e) => e.kind === 'message')
    expect(entries.map((e) => e.kind === 'message' && e.mention)).toEqual([true, true])
  })

  it('grows no entry past its bound for a sender that says more for ever', () => {
    const { model } = setup()
    for (let seq = 1; seq <= 30; seq++)
      model.showMessages([
        {
          id: `b${seq}`,
          seq,
          ts: 0,
          from: bob,
          body: 'x'.repeat(10_000),
          catchUp: false,
          more: true,
          ...(seq > 1 ? { continues: true as const } : {}),
        },
      ])
    const sizes = model.list.all().map((e) => (e.kind === 'message' ? e.body.length : 0))
    expect(Math.max(...sizes)).toBeLessThanOrEqual(110_000)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300_000)
  })

  it('puts a rule with the count, grouped, above a catch-up', () => {
    const { model, screen } = setup()
    const shown = (body: string) => ({ id: body, seq: 1, ts: 0, from: bob, body, catchUp: true })
    model.showMessages([shown('one')], 1)
    model.showMessages([shown('many')], 12_345)
    const lines = screen(80, 10).lines.join('\n')
    expect(lines).toContain(' 1 message from while you were away ')
    expect(lines).toContain(' 12,345 messages from while you were away ')
  })

  it('keeps what was shown before a catch-up longer than half the pane, and shows the newest of it', () => {
    const { model, screen, type, press } = setup(60_000, 10)
    type('hello room, just joined')
    press('enter')
    const older = Array.from({ length: 12 }, (_, i) => ({
      id: `c${i}`,
      seq: i + 1,
      ts: i,
      from: bob,
      body: `backlog ${i + 1}`,
      catchUp: true,
    }))
    model.showMessages(older, 12)
    // Before, the catch-up pushed the own line (and its own rule) out by the cap, though older than both.
    const lines = screen(80, 12).lines
    expect(lines[0]).toBe('12:00:00 <alice> hello room, just joined')
    expect(lines[1]).toContain(' 12 messages from while you were away, the newest 5 shown ')
    expect(lines.slice(2, 7)).toEqual([8, 9, 10, 11, 12].map((n) => `12:00:00 <bob> backlog ${n}`))
  })

  it('says which of a catch-up the last run received and may not have shown', () => {
    const { model, screen } = setup()
    const shown = (body: string, replayed: boolean) => ({
      id: body,
      seq: 1,
      ts: 0,
      from: bob,
      body,
      catchUp: true,
      ...(replayed ? { replayed: true as const } : {}),
    })
    model.showMessages([shown('again', true)], 1)
    model.showMessages([shown('again', true), shown('new', false)], 2)
    const lines = screen(100, 10).lines.join('\n')
    expect(lines).toContain(' 1 message the last run received and may not have shown ')
    expect(lines).toContain(
      ' 2 messages from while you were away (1 of them received by the last run, maybe not shown) ',
    )
  })

  it('says in the status bar when links are not encrypted', () => {
    const model = new ChatModel({ self: alice, width: graphemeWidth(), secure: false })
    expect(rowText(model.frame(80, 10).status)).toContain('PLAIN: not encrypted')
  })

  it('shows network text safely: control characters become visible', () => {
    const { receive, screen } = setup()
    receive('evil \x1b[2J')
    expect(screen().lines[0]).toBe('12:00:00 <bob> evil ^[[2J')
  })

  it('scrolls long input horizontally and keeps the cursor on screen', () => {
    const { type, screen, press } = setup()
    type('x'.repeat(100))
    const end = screen(40)
    expect(end.cursor).toBeLessThan(40)
    expect(end.input.length).toBeLessThanOrEqual(40)
    press('C-a')
    const start = screen(40)
    expect(start.cursor).toBe(2)
    expect(start.input.startsWith('> xxx')).toBe(true)
  })

  it('shows the whole draft from its start again when the terminal grows back after a resize', () => {
    const { type, screen } = setup()
    type('draft text being typed during resize')
    expect(screen(100).input).toBe('> draft text being typed during resize')
    for (const narrow of [30, 12]) {
      const small = screen(narrow)
      expect(small.input.endsWith('resize')).toBe(true)
      expect(small.cursor).toBeLessThan(narrow)
      const wide = screen(100)
      expect(wide.input).toBe('> draft text being typed during resize')
      expect(wide.cursor).toBe(2 + 36)
    }
  })

  it('shows as much of a long draft as fits, the cursor in view, after a resize', () => {
    const { type, press, screen } = setup()
    const draft = Array.from({ length: 20 }, (_, i) => `w${String(i).padStart(2, '0')}`).join(' ')
    type(draft)
    screen(20)
    const grown = screen(60)
    expect(grown.input).toBe(`> ${draft.slice(draft.length - 57)}`)
    expect(grown.cursor).toBe(59)
    // The cursor in the middle: the narrow row scrolls to it, the wider one fills up to the end of the draft.
    press('C-a')
    for (let i = 0; i < 60; i++) press('right')
    screen(20)
    const back = screen(40)
    expect(back.input).toBe(`> ${draft.slice(79 - 37)}`)
    expect(back.cursor).toBe(2 + 60 - (79 - 37))
  })

  it('shows the character under the cursor when moving right reaches the edge of the input row', () => {
    const { type, press, screen } = setup()
    const draft = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ'
    type(draft)
    press('C-a')
    // Row 30: `> ` and 27 cells of the draft, the last cell left for the cursor at the end of a line.
    for (let i = 0; i < draft.length; i++) {
      const { input, cursor } = screen(30)
      expect(input[cursor], `cursor at ${i}`).toBe(draft[i])
      press('right')
    }
    // A wide character under the cursor is shown whole too.
    const wide = '日本語のテキストを入力してみるとどうなるでしょうか'
    press('C-u')
    type(wide)
    press('C-a')
    for (let i = 0; i < wide.length; i++) {
      const { input, cursor } = screen(30)
      const cells = [...input].flatMap((c) => (/[\u3000-\u9fff]/.test(c) ? [c, ''] : [c]))
      expect(cells[cursor], `cursor at ${i}`).toBe(wide[i])
      press('right')
    }
  })

  it('puts the cursor after wide characters by cells, not code units', () => {
    const { type, screen } = setup()
    type('日本👨‍👩‍👧')
    expect(screen().cursor).toBe(2 + 6)
  })

  it('wraps and re-wraps on resize without losing history', () => {
    const { receive, screen } = setup()
    for (let i = 0; i < 50; i++) receive(`message number ${i} with some words to wrap around`)
    const wide = screen(120, 10).lines
    const narrow = screen(30, 10).lines
    expect(wide.at(-1)).toContain('message number 49')
    expect(narrow.at(-1)).toContain('around')
    expect(narrow.join(' ')).toMatch(/\b49\b/)
    expect(screen(120, 10).lines).toEqual(wide)
  })

  it('ignores mouse wheel when there is nothing to scroll and scrolls when there is', () => {
    const { receive, model, screen } = setup()
    for (let i = 0; i < 30; i++) receive(`m${i}`)
    screen()
    model.key({ type: 'wheel', direction: 'up' } as KeyEvent)
    expect(model.list.scrolled).toBe(true)
    model.key({ type: 'wheel', direction: 'down' } as KeyEvent)
    expect(model.list.scrolled).toBe(false)
  })

  it('moves its revision for everything a key changes beyond the input line, and only then', () => {
    const { model, type, press, receive, screen } = setup()
    for (let i = 0; i < 30; i++) receive(`m${i}`)
    screen()
    const changesScreen = (act: () => unknown) => {
      const before = model.revision
      act()
      return model.revision !== before
    }
    expect(changesScreen(() => type('hello'))).toBe(false)
    expect(changesScreen(() => press('backspace'))).toBe(false)
    expect(changesScreen(() => press('C-a'))).toBe(false)
    expect(changesScreen(() => press('C-end'))).toBe(false)
    expect(changesScreen(() => model.key({ type: 'focus', focused: true }))).toBe(false)
    expect(changesScreen(() => screen(80, 20))).toBe(false)
    expect(changesScreen(() => press('pageup'))).toBe(true)
    expect(changesScreen(() => press('C-end'))).toBe(true)
    expect(changesScreen(() => press('enter'))).toBe(true)
    expect(changesScreen(() => press('f2'))).toBe(true)
    expect(changesScreen(() => model.setUndelivered(1))).toBe(true)
    expect(changesScreen(() => receive('one more'))).toBe(true)
  })

  describe('members of the room', () => {
    const carol: PeerInfo = { id: 'c'.repeat(64), name: 'carol' }
    const members = [
      { peer: bob, direct: true, connected: true, address: '127.0.0.1:59404', listen: '127.0.0.1:4002' },
      { peer: carol, direct: false, connected: true },
    ]

    it('asks the node for the members on /peers and lists them in the pane', () => {
      const { model, type, press, screen } = setup()
      type('/peers')
      expect(press('enter')).toEqual([{ type: 'members', list: true }])
      model.setMembers(members)
      model.listMembers()
      const lines = screen(100, 10).lines.join('\n')
      expect(lines).toContain('-- bob [bbbbbbbbb] direct, connected at 127.0.0.1:4002')
      expect(lines).toMatch(/-- carol \[[a-z2-7]{4}-[a-z2-7]{4}\] relay, reachable through the mesh/)
    })

    it('opens a member panel with F2 or /members, and the messages make room for it', () => {
      const { model, press, type, receive, screen } = setup()
      receive('x'.repeat(70))
      expect(screen(90, 10).panel).toBeUndefined()
      expect(press('f2')).toEqual([{ type: 'members', list: false }])
      model.setMembers(members)
      const open = screen(90, 10)
      expect(open.panel?.width).toBe(30)
      expect(open.panel?.rows).toHaveLength(8)
      const panel = open.panel!.rows.map(rowText)
      expect(panel.slice(0, 4)).toEqual([
        '│ members (3) · F2',
        '│ ● alice (you)',
        '│ ● bob bbbbbbbbb',
        expect.stringMatching(/^│ ~ carol [a-z2-7]{4}-[a-z2-7]{4}$/),
      ])
      // The 70-character line now wraps within the 60 columns left for messages.
      expect(open.lines.filter((l) => l.includes('x'))).toHaveLength(2)
      type('/members')
      expect(press('enter')).toEqual([])
      expect(screen(90, 10).panel).toBeUndefined()
    })

    it('says under each connected neighbour in the panel how its link was made, in the words of /peers', () => {
      const { model, press, screen } = setup()
      const dan: PeerInfo = { id: 'd'.repeat(64), name: 'dan' }
      const erin: PeerInfo = { id: 'e'.repeat(64), name: 'erin' }
      const frank: PeerInfo = { id: 'f'.repeat(64), name: 'frank' }
      const connected = (peer: PeerInfo, route: LinkRoute) =>
        model.nodeEvent({ type: 'connected', peer, address: `dht:${peer.id}`, direction: 'outbound' }, route)
      connected(bob, { kind: 'tcp' })
      connected(dan, { kind: 'holepunched', remoteHost: '198.51.100.102', remotePort: 40123 })
      connected(erin, {
        kind: 'relayed',
        relayKey: '9'.repeat(64),
        relayHost: '203.0.113.7',
        relayPort: 49737,
      })
      connected(frank, { kind: 'tcp' })
      const gina: PeerInfo = { id: '6'.repeat(64), name: 'gina' }
      // On this machine: reached at its own address, as /peers and the status bar say (direct UDP).
      connected(gina, { kind: 'holepunched', remoteHost: '127.0.0.1', remotePort: 40124 })
      const room = [
        { peer: bob, direct: true, connected: true },
        { peer: dan, direct: true, connected: true },
        { peer: erin, direct: true, connected: true },
        // Its link is gone: no link kind under it.
        { peer: frank, direct: true, connected: false },
        { peer: carol, direct: false, connected: true },
      ]
      press('f2')
      model.setMembers([...room, { peer: gina, direct: true, connected: true }])
      const withGina = screen(90, 20).panel!.rows.map(rowText)
      const at = withGina.findIndex((row) => /^│ ● gina [a-z2-7]{4}-[a-z2-7]{4}$/.test(row))
      expect(withGina[at + 1], withGina.join('\n')).toBe('│   direct UDP')
      model.listMembers()
      expect(screen(200, 40).lines.join('\n')).toMatch(
        /-- gina \[.*\] direct, connected \(direct UDP on this machine: /,
      )
      model.setMembers(room)
      const panel = screen(90, 14).panel!.rows.map(rowText)
      expect(panel.slice(0, 10)).toEqual([
        '│ members (6) · F2',
        '│ ● alice (you)',
        '│ ● bob bbbbbbbbb',
        '│   direct TCP',
        expect.stringMatching(/^│ ● dan [a-z2-7]{4}-[a-z2-7]{4}$/),
        '│   holepunched',
        expect.stringMatching(/^│ ● erin [a-z2-7]{4}-[a-z2-7]{4}$/),
        '│   relayed',
        expect.stringMatching(/^│ ○ frank [a-z2-7]{4}-[a-z2-7]{4}$/),
        expect.stringMatching(/^│ ~ carol [a-z2-7]{4}-[a-z2-7]{4}$/),
      ])
      // The same words as the /peers answer, which the CLI prints too.
      model.listMembers()
      const lines = screen(200, 30).lines.join('\n')
      expect(lines).toMatch(/-- bob \[bbbbbbbbb\] direct, connected \(direct TCP\)/)
      expect(lines).toMatch(/-- dan \[.*\] direct, connected \(holepunched; /)
      expect(lines).toMatch(/-- erin \[.*\] direct, connected \(relayed through /)
      // Too short for everyone: a member and its link row stay together, and the rest are counted.
      expect(screen(90, 9).panel!.rows.map(rowText)).toEqual([
        '│ members (6) · F2',
        '│ ● alice (you)',
        '│ ● bob bbbbbbbbb',
        '│   direct TCP',
        expect.stringMatching(/^│ ● dan /),
        '│   holepunched',
        '│ … 3 more (/peers)',
      ])
      expect(screen(90, 8).panel!.rows.map(rowText).slice(4)).toEqual(['│ … 4 more (/peers)', '│ '])
    })

    it('keeps the panel closed on a terminal too narrow for it', () => {
      const { press, screen } = setup()
      press('f2')
      expect(screen(39, 10).panel).toBeUndefined()
    })
  })
})
