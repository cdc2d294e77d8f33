import { describe, expect, it } from 'vitest'
import { OutboxWatch } from './outbox-watch.js'

const limits = { highMessages: 4, highChars: 100, lowMessages: 2, lowChars: 50 }

describe('OutboxWatch', () => {
  it('is full at the message mark with short lines, and drained once the node released enough', () => {
    const watch = new OutboxWatch(limits)
    for (let i = 0; i < 4; i++) watch.sent('hi')
    expect(watch.full(3)).toBe(false)
    expect(watch.full(4)).toBe(true)
    expect(watch.drained(3)).toBe(false)
    expect(watch.drained(2)).toBe(true)
    expect(watch.waitingChars).toBe(4)
  })

  it('is full at the character mark with long lines, well before the message mark', () => {
    const watch = new OutboxWatch(limits)
    watch.sent('x'.repeat(60))
    expect(watch.full(1)).toBe(false)
    watch.sent('y'.repeat(40))
    expect(watch.full(2)).toBe(true)
    // The node released the oldest (60 characters): 40 wait, under both low marks.
    expect(watch.drained(1)).toBe(true)
    expect(watch.waitingChars).toBe(40)
  })

  it('counts only what still waits, however much was sent over time', () => {
    const watch = new OutboxWatch(limits)
    for (let i = 0; i < 5_000; i++) {
      watch.sent('z'.repeat(10))
      watch.settle(1)
    }
    expect(watch.waitingChars).toBe(10)
    expect(watch.full(1)).toBe(false)
    watch.settle(0)
    expect(watch.waitingChars).toBe(0)
  })

  it('counts runs handed over together, and a run released in part by its share of characters', () => {
    const watch = new OutboxWatch(limits)
    watch.sent('a'.repeat(10))
    watch.sentRun(4, 80)
    expect(watch.full(5)).toBe(true)
    expect(watch.waitingChars).toBe(90)
    // The single message and one of the run's four went out: three quarters of the run's 80 wait.
    expect(watch.drained(3)).toBe(false)
    expect(watch.waitingChars).toBe(60)
    expect(watch.drained(2)).toBe(true)
    expect(watch.waitingChars).toBe(40)
    watch.sentRun(0, 0)
    watch.settle(0)
    expect(watch.waitingChars).toBe(0)
  })
})
