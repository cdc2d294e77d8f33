import type { PeerInfo } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { ConnectionStatus, MAX_GONE } from './status.js'

const peer = (i: number): PeerInfo => ({ id: i.toString(16).padStart(64, '0'), name: `p${i}` })

describe('connection status', () => {
  it('keeps the latest MAX_GONE peers that left, and every peer still linked, however many came and went', () => {
    const status = new ConnectionStatus()
    const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }
    status.apply({ type: 'connected', peer: bob, address: '127.0.0.1:7000', direction: 'outbound' })
    for (let i = 0; i < 5 * MAX_GONE; i++) {
      status.apply({ type: 'connected', peer: peer(i), address: '127.0.0.1:7001', direction: 'inbound' })
      status.apply({ type: 'disconnected', peer: peer(i), reason: 'gone' })
    }
    const names = status.peers().map((p) => p.name)
    expect(names).toHaveLength(MAX_GONE + 1)
    expect(names).toContain('bob')
    expect(names).toContain(`p${5 * MAX_GONE - 1}`)
    expect(names).not.toContain('p0')
    expect(status.summary()).toMatchObject({ state: 'connected', peer: { name: 'bob' }, others: 0 })
  })

  it('names a connected peer that took another name by the new one, in the bar and for Tab', () => {
    const status = new ConnectionStatus()
    const bob: PeerInfo = { id: 'b'.repeat(64), name: 'bob' }
    status.apply({ type: 'connected', peer: bob, address: '127.0.0.1:7000', direction: 'outbound' })
    const robert = { ...bob, name: 'robert' }
    status.apply({ type: 'member', peer: robert, via: 'direct', renamedFrom: 'bob' })
    expect(status.summary()).toMatchObject({ state: 'connected', peer: { name: 'robert' } })
    expect(status.peers().map((p) => p.name)).toEqual(['robert'])
  })

  it('counts a peer that comes back as linked again, and its leaving again once', () => {
    const status = new ConnectionStatus()
    for (let round = 0; round < 3; round++) {
      status.apply({ type: 'connected', peer: peer(1), address: '127.0.0.1:7001', direction: 'inbound' })
      expect(status.summary()).toMatchObject({ state: 'connected', peer: { name: 'p1' } })
      status.apply({ type: 'disconnected', peer: peer(1), reason: 'gone' })
      status.apply({ type: 'disconnected', peer: peer(1), reason: 'gone again' })
    }
    for (let i = 2; i < MAX_GONE + 1; i++)
      status.apply({ type: 'connected', peer: peer(i), address: '127.0.0.1:7001', direction: 'inbound' })
    for (let i = 2; i < MAX_GONE + 1; i++)
      status.apply({ type: 'disconnected', peer: peer(i), reason: 'gone' })
    // p1 and p2..p1000 left: 1,000 gone in all, so none is forgotten yet.
    expect(status.peers()).toHaveLength(MAX_GONE)
    expect(status.peers().map((p) => p.name)).toContain('p1')
  })
})

describe('where a connected peer is', () => {
  it('shows an inbound peer where it listens, as the connect line does, not the port its link came from', () => {
    const status = new ConnectionStatus()
    status.apply({
      type: 'connected',
      peer: { id: 'b'.repeat(64), name: 'bob' },
      address: '127.0.0.1:54548',
      listen: '127.0.0.1:4602',
      direction: 'inbound',
    })
    expect(status.summary().peer).toEqual({ name: 'bob', address: '127.0.0.1:4602' })
  })

  it('falls back to the link address when the peer says nothing of where it listens', () => {
    const status = new ConnectionStatus()
    status.apply({
      type: 'connected',
      peer: { id: 'b'.repeat(64), name: 'bob' },
      address: '127.0.0.1:54548',
      direction: 'inbound',
    })
    expect(status.summary().peer).toEqual({ name: 'bob', address: '127.0.0.1:54548' })
  })
})
