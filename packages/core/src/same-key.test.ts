import { describe, expect, it } from 'vitest'
import { SAME_KEY_DEFAULTS, type SameKeyReport, SameKeyWatch } from './same-key.js'

const KEY = 'aaaa'
const at = (port: number) => ({ address: `127.0.0.1:${port}`, listen: `127.0.0.1:${port + 1}` })

function watch() {
  const reports: SameKeyReport[] = []
  return { reports, keys: new SameKeyWatch((r) => reports.push(r)) }
}

describe('SameKeyWatch', () => {
  it('lets every new instance of a key in at once: restarts, however many, are not twins', () => {
    const { reports, keys } = watch()
    let now = 0
    for (const instance of ['one', 'two', 'three', 'four']) {
      expect(keys.hello(KEY, instance, at(1000), now)).toEqual({ ok: true })
      keys.opened(KEY, instance, at(1000), now)
      now += 100
    }
    expect(reports).toEqual([])
    expect(keys.twins(KEY)).toBe(false)
  })

  it('says which instance a new one took the link from, and none for the same instance again', () => {
    const { keys } = watch()
    expect(keys.opened(KEY, 'one', at(1000), 0)).toBeUndefined()
    expect(keys.opened(KEY, 'one', at(1000), 10)).toBeUndefined()
    expect(keys.opened(KEY, 'two', at(2000), 20)).toBe('one')
  })

  it('reports an instance that comes back after another took its place, once, and turns it away while the other (the lower) holds the link', () => {
    const { reports, keys } = watch()
    keys.opened(KEY, 'bbb', at(1000), 0)
    keys.opened(KEY, 'aaa', at(2000), 10)
    for (let i = 0; i < 5; i++) {
      const verdict = keys.hello(KEY, 'bbb', at(1000), 100 + i * 1000)
      expect(verdict).toMatchObject({ ok: false, holder: 'aaa' })
    }
    expect(reports).toEqual([{ peerId: KEY, addresses: [at(2000), at(1000)] }])
    expect(keys.twins(KEY)).toBe(true)
    // The one that holds the link is let in again (a second link of its own, a redial).
    expect(keys.hello(KEY, 'aaa', at(2000), 6_000)).toEqual({ ok: true })
  })

  it('lets a returning lower instance take the link once, so every neighbour ends with the same one; then turns the other away', () => {
    const { reports, keys } = watch()
    keys.opened(KEY, 'aaa', at(1000), 0)
    expect(keys.opened(KEY, 'bbb', at(2000), 10)).toBe('aaa')
    expect(keys.hello(KEY, 'aaa', at(1000), 100)).toEqual({ ok: true })
    expect(keys.opened(KEY, 'aaa', at(1000), 100)).toBe('bbb')
    for (let i = 0; i < 5; i++) expect(keys.hello(KEY, 'bbb', at(2000), 200 + i * 1000).ok).toBe(false)
    expect(reports).toEqual([{ peerId: KEY, addresses: [at(2000), at(1000)] }])
  })

  it('lets the one turned away in once the other said bye, and turns the other away in its turn', () => {
    const { reports, keys } = watch()
    keys.opened(KEY, 'bbb', at(1000), 0)
    keys.opened(KEY, 'aaa', at(2000), 10)
    expect(keys.hello(KEY, 'bbb', at(1000), 100).ok).toBe(false)
    keys.ended(KEY, 'aaa', true, 200)
    expect(keys.hello(KEY, 'bbb', at(1000), 201)).toEqual({ ok: true })
    expect(keys.opened(KEY, 'bbb', at(1000), 201)).toBe('aaa')
    // The lower one, back while the higher holds the link, takes it again (and keeps it).
    expect(keys.hello(KEY, 'aaa', at(2000), 300).ok).toBe(true)
    expect(reports).toHaveLength(1)
  })

  it('waits a grace period after the holder dropped without a bye (its transport may have ended it for the newcomer)', () => {
    const { keys } = watch()
    keys.opened(KEY, 'bbb', at(1000), 0)
    keys.opened(KEY, 'aaa', at(2000), 10)
    keys.ended(KEY, 'aaa', false, 1_000)
    expect(keys.hello(KEY, 'bbb', at(1000), 1_000 + SAME_KEY_DEFAULTS.graceMs - 1).ok).toBe(false)
    expect(keys.hello(KEY, 'bbb', at(1000), 1_000 + SAME_KEY_DEFAULTS.graceMs).ok).toBe(true)
  })

  it('counts a link closed before the next one opened as taken over too (a transport that keeps the newest)', () => {
    const { reports, keys } = watch()
    keys.opened(KEY, 'bbb', at(1000), 0)
    keys.ended(KEY, 'bbb', false, 5)
    expect(keys.opened(KEY, 'aaa', at(2000), 10)).toBe('bbb')
    expect(keys.hello(KEY, 'bbb', at(1000), 20).ok).toBe(false)
    expect(reports).toHaveLength(1)
  })

  it('forgets an instance after a long silence, and keys beyond its bound', () => {
    const keys = new SameKeyWatch(() => undefined, { maxKeys: 2 })
    keys.opened(KEY, 'bbb', at(1000), 0)
    keys.opened(KEY, 'aaa', at(2000), 10)
    expect(keys.hello(KEY, 'bbb', at(1000), 10 + SAME_KEY_DEFAULTS.rememberMs + 1).ok).toBe(true)

    keys.opened('bbbb', 'y', at(3000), 0)
    keys.ended('bbbb', 'y', true, 1)
    keys.opened('bbbb', 'x', at(3000), 2)
    keys.ended('bbbb', 'x', false, 3)
    keys.opened('cccc', 'z', at(4000), 4)
    keys.opened('dddd', 'w', at(5000), 5)
    // bbbb, the first with no live link, made room: its old instance is a stranger now (else, within the
    // grace after x dropped, it would be turned away).
    expect(keys.hello('bbbb', 'y', at(3000), 6).ok).toBe(true)
  })
})
