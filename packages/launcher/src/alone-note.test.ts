import type { NodeEvent, PeerInfo } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { AloneNote } from './alone-note.js'

const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }
const connected: NodeEvent = {
  type: 'connected',
  peer: bob,
  address: '127.0.0.1:4001',
  direction: 'outbound',
}
const disconnected: NodeEvent = { type: 'disconnected', peer: bob, reason: 'connection closed' }

describe('AloneNote', () => {
  it('says once that typed lines wait while nobody is connected, and again after the next time alone', () => {
    const alone = new AloneNote()
    expect(alone.sent(1)).toBe(
      'nobody is connected: this message waits in the outbox and goes out when a peer connects (said once; /peers lists the room)',
    )
    expect(alone.sent(2)).toBeUndefined()
    alone.observe(connected)
    expect(alone.sent(0)).toBeUndefined()
    alone.observe(disconnected)
    expect(alone.sent(3)).toMatch(/^nobody is connected: 3 messages wait in the outbox/)
    expect(alone.sent(4)).toBeUndefined()
  })

  it('says with --plain that the lines are held in memory only, and lost if parley exits first', () => {
    const alone = new AloneNote({ durable: false })
    expect(alone.sent(1)).toBe(
      'nobody is connected: this message is held in memory only (--plain keeps no outbox) and goes out when a peer connects; it is lost if parley exits first (said once; /peers lists the room)',
    )
    expect(alone.sent(2)).toBeUndefined()
    alone.observe(connected)
    alone.observe(disconnected)
    expect(alone.sent(3)).toBe(
      'nobody is connected: 3 messages are held in memory only (--plain keeps no outbox) and go out when a peer connects; they are lost if parley exits first (said once; /peers lists the room)',
    )
  })
})
