import { shownLineBytes } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { formatContinued, formatLines, formatMessage, jsonEvent, jsonMessage, jsonSent } from './output.js'

describe('formatMessage', () => {
  it('puts a one-line message after the name, with control characters made visible', () => {
    expect(formatMessage('bob', 'hello \u001b[2Jthere', 0, false)).toBe('<bob> hello ^[[2Jthere')
  })

  it('indents continuation lines under the text', () => {
    expect(formatMessage('bob', 'one\ntwo', 0, false)).toBe('<bob> one\n      two')
  })

  it('indents continuation lines by the columns a wide name takes, not its UTF-16 length', () => {
    // 東京猫 takes 6 columns in 3 UTF-16 units; 🐱 2 columns in 2 units; 👩‍💻 one glyph of 2 columns in 5 units.
    expect(formatMessage('東京猫', 'one\ntwo', 0, false)).toBe(`<東京猫> one\n${' '.repeat(9)}two`)
    expect(formatMessage('neko🐱', 'one\ntwo', 0, false)).toBe(`<neko🐱> one\n${' '.repeat(9)}two`)
    expect(formatMessage('👩\u200d💻', 'one\ntwo', 0, true)).toMatch(
      /^\[[\d:-]{8}\] <👩\u200d💻> one\n {16}two$/,
    )
    expect(formatMessage('東京猫', '\u0001ACTION waves\nhi', 0, false, 'waves\nhi')).toBe(
      `* 東京猫 waves\n${' '.repeat(9)}hi`,
    )
  })

  it('shows an action as `* name text`', () => {
    expect(formatMessage('bob', '\u0001ACTION waves', 0, false, 'waves')).toBe('* bob waves')
  })
})

describe('what a line takes shown', () => {
  it("is never more than core's bound, by which a sender packs lines into one write of the display", () => {
    const units = [
      'a',
      ' ',
      '~',
      '"',
      '\\',
      '\t',
      '\u0001',
      '\u001b',
      '\u007f',
      '\u0085',
      'é',
      '漢',
      '\u202e',
      '\ud83d',
      '\ude00',
    ]
    let seed = 7
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed
    }
    const text = (length: number) => Array.from({ length }, () => units[next() % units.length]).join('')
    for (let i = 0; i < 2_000; i++) {
      const name = i % 3 === 0 ? text(next() % 12) || 'n' : 'alice'
      const body = i % 2 === 0 ? text(next() % 80) : 'x'.repeat(next() % 80)
      // The widest prefix: a timestamp, and the look-alike suffix a label may carry.
      const label = `${name}~abcd-efgh`
      const line =
        formatLines(label, [body], Date.now(), true) ?? formatMessage(label, body, Date.now(), true)
      expect(Buffer.byteLength(`${line}\n`)).toBeLessThanOrEqual(shownLineBytes(name, body))
    }
  })
})

describe('jsonEvent', () => {
  const peer = { id: 'ab'.repeat(32), name: 'bob' }
  it('gives a disconnection that ended in a refusal its code, so a script can back off too', () => {
    expect(
      jsonEvent({ type: 'disconnected', peer, reason: 'refused: over quota', refusal: 'OVER_QUOTA' }),
    ).toEqual({
      type: 'disconnected',
      peer: 'bob',
      peerId: peer.id,
      reason: 'refused: over quota',
      refusal: 'OVER_QUOTA',
    })
    expect(jsonEvent({ type: 'disconnected', peer, reason: 'connection closed' })).not.toHaveProperty(
      'refusal',
    )
  })

  it('says a connection replaced a link not yet seen closed, so a script can tell a reconnect from a new peer', () => {
    const connected = { type: 'connected', peer, address: '127.0.0.1:4002', direction: 'outbound' } as const
    expect(jsonEvent({ ...connected, replaced: 'restarted' })).toMatchObject({
      type: 'connected',
      replaced: 'restarted',
    })
    expect(jsonEvent(connected)).not.toHaveProperty('replaced')
  })

  it('says when a relayed member last wrote, so a script can tell an old backlog from a member that is there', () => {
    expect(jsonEvent({ type: 'member', peer, via: 'relay', lastSent: 1_700_000_000_000 })).toEqual({
      type: 'member',
      peer: 'bob',
      peerId: peer.id,
      via: 'relay',
      lastSent: 1_700_000_000_000,
    })
  })

  it('says when a member first seen in old messages said it is there, so a script knows it is there now', () => {
    expect(jsonEvent({ type: 'member', peer, via: 'relay', hereAt: 1_700_000_600_000 })).toEqual({
      type: 'member',
      peer: 'bob',
      peerId: peer.id,
      via: 'relay',
      hereAt: 1_700_000_600_000,
    })
  })

  it('gives the reason a relayed member left with, when its leave carried one', () => {
    expect(jsonEvent({ type: 'member-left', peer, at: 7, reason: 'back tomorrow' })).toEqual({
      type: 'member-left',
      peer: 'bob',
      peerId: peer.id,
      at: 7,
      reason: 'back tomorrow',
    })
    expect(jsonEvent({ type: 'member-left', peer, at: 7 })).not.toHaveProperty('reason')
  })
})

describe('jsonSent', () => {
  const sent = { id: 'm-1', seq: 1, ts: 5, durable: Promise.resolve() }
  it('writes a /me line as message and history events do: its text, with action', () => {
    expect(jsonSent(sent, '\u0001ACTION waves\u0001')).toEqual({
      type: 'sent',
      id: 'm-1',
      seq: 1,
      ts: 5,
      body: 'waves',
      action: true,
    })
    expect(jsonSent(sent, 'plain words')).toEqual({
      type: 'sent',
      id: 'm-1',
      seq: 1,
      ts: 5,
      body: 'plain words',
    })
  })
})

describe('a line sent in parts', () => {
  const alice = { id: 'a'.repeat(64), name: 'alice' }

  it('continues an open line with the text alone, a line break in it indented under the text', () => {
    expect(formatContinued('alice', 'rest of the line')).toBe('rest of the line')
    expect(formatContinued('alice', 'end\nnext\u001b[2J')).toBe('end\n        next^[[2J')
    // A control character shows as any does: an action's part comes as its text, without the closing \u0001.
    expect(formatContinued('alice', 'waving\u0001')).toBe('waving^A')
    expect(formatContinued('東京猫', 'end\nnext')).toBe(`end\n${' '.repeat(9)}next`)
  })

  it('tells --json readers which parts go on in the next message', () => {
    const part = { id: 'm1', seq: 1, ts: 1, from: alice, body: 'start', catchUp: false } as const
    expect(jsonMessage({ ...part, more: true })).toMatchObject({ body: 'start', more: true })
    expect(jsonMessage(part)).not.toHaveProperty('more')
    const event = {
      type: 'message',
      id: 'm1',
      seq: 1,
      ts: 1,
      from: alice,
      body: 'start',
      more: true,
    } as const
    expect(jsonEvent(event)).toMatchObject({ type: 'message', more: true })
  })
})
