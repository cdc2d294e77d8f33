import { describe, expect, it } from 'vitest'
import { HandshakeSlots, type Slot } from './handshake-slots.js'

function slots(perNode: number, perSource: number) {
  const evicted: Array<{ slot: Slot; reason: string }> = []
  const table = new HandshakeSlots({ perNode, perSource }, (slot, reason) => evicted.push({ slot, reason }))
  const admit = (address: string): Slot => {
    const admission = table.admit(address, hostOf(address))
    if (!admission.admitted) throw new Error(`refused ${address}: ${admission.reason}`)
    return admission.slot
  }
  return { table, evicted, admit }
}

/** The source TCP reports for a link: its remote host, whatever the port. */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(':'))
}

describe('HandshakeSlots', () => {
  it('refuses a connection past the per-host cap, whatever its port, and evicts nobody for it', () => {
    const { table, evicted, admit } = slots(64, 2)
    admit('127.0.0.2:1000')
    admit('127.0.0.2:1001')
    expect(table.admit('127.0.0.2:1002', hostOf('127.0.0.2:1002'))).toEqual({
      admitted: false,
      reason: expect.stringContaining('limit 2 from 127.0.0.2'),
    })
    expect(table.admit('[::1]:1000', hostOf('[::1]:1000'))).toMatchObject({ admitted: true })
    expect(evicted).toEqual([])
  })

  it('evicts the oldest pending connection when the node is full, and aborts its handshake', () => {
    const { evicted, admit } = slots(2, 8)
    const oldest = admit('127.0.0.2:1')
    const next = admit('127.0.0.3:1')
    const newest = admit('127.0.0.4:1')
    expect(oldest.dropped.aborted).toBe(true)
    expect(next.dropped.aborted).toBe(false)
    expect(newest.dropped.aborted).toBe(false)
    expect(evicted).toEqual([{ slot: oldest, reason: expect.stringContaining('oldest of 2') }])
  })

  it('frees a host’s slot when its handshake ends, once', () => {
    const { table, admit } = slots(64, 1)
    const slot = admit('127.0.0.2:1')
    table.release(slot)
    table.release(slot)
    const again = admit('127.0.0.2:2')
    expect(table.admit('127.0.0.2:3', hostOf('127.0.0.2:3'))).toMatchObject({ admitted: false })
    table.release(again)
    expect(table.admit('127.0.0.2:4', hostOf('127.0.0.2:4'))).toMatchObject({ admitted: true })
  })

  it('aborts every pending handshake when the listener closes, reporting none as evicted', () => {
    const { table, evicted, admit } = slots(64, 8)
    const pending = [admit('127.0.0.2:1'), admit('127.0.0.3:1')]
    table.abortAll()
    expect(pending.map((slot) => slot.dropped.aborted)).toEqual([true, true])
    expect(evicted).toEqual([])
    expect(table.admit('127.0.0.2:2', hostOf('127.0.0.2:2'))).toMatchObject({ admitted: true })
  })
})
