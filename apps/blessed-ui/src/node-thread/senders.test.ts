import { describe, expect, it } from 'vitest'
import { MAX_SENDERS, Senders } from './senders.js'

describe('the senders shared by the messages on the screen thread', () => {
  it('gives every message from one sender under one name the same object', () => {
    const senders = new Senders()
    const first = senders.same({ id: 'a'.repeat(64), name: 'bob' })
    expect(senders.same({ id: 'a'.repeat(64), name: 'bob' })).toBe(first)
    // A rename is another sender as far as the pane is concerned: its messages show the new name.
    const renamed = senders.same({ id: 'a'.repeat(64), name: 'robert' })
    expect(renamed).not.toBe(first)
    expect(renamed).toEqual({ id: 'a'.repeat(64), name: 'robert' })
    expect(senders.same({ id: 'b'.repeat(64), name: 'bob' }).id).toBe('b'.repeat(64))
  })

  it('remembers a bounded number of senders however many names arrive', () => {
    const senders = new Senders()
    for (let i = 0; i < 3 * MAX_SENDERS; i++) senders.same({ id: 'a'.repeat(64), name: `name ${i}` })
    expect(senders.size).toBeLessThanOrEqual(MAX_SENDERS)
  })
})
