import type { MemberInfo } from '@parley/core'
import { PeerLabels, shortId } from '@parley/launcher'
import { describe, expect, it } from 'vitest'
import { graphemeWidth } from '../text/width.js'
import { MemberPanel } from './member-panel.js'
import { rowText, rowWidth } from './rows.js'

const width = graphemeWidth()
const self = { id: 'a'.repeat(64), name: 'me' }

/** The panel's rows, `cols` wide, for members with these names (direct, not connected). */
function panelRows(names: readonly string[], cols: number, you = self): string[] {
  const panel = new MemberPanel(new PeerLabels(() => you), width)
  panel.set(
    names.map((name, i) => ({
      peer: {
        id: String(i + 1)
          .repeat(64)
          .slice(0, 64),
        name,
      },
      direct: true,
      connected: false,
    })),
  )
  const rows = panel.rows(you, cols, 20)
  for (const row of rows) expect(rowWidth(row, width)).toBeLessThanOrEqual(cols)
  return rows.map(rowText)
}

describe('member panel', () => {
  it('cuts a name too long for the panel short, and keeps its fingerprint', () => {
    const long = 'kathryn-janeway-of-the-starship-voyager'
    const rows = panelRows([long, 'ｋａｔｈｒｙｎ-ｊａｎｅｗａｙ'], 30)
    const fp1 = shortId('1'.repeat(64))
    const fp2 = shortId('2'.repeat(64))
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^│ ○ kathryn-jane\\S*… ${fp1}$`)))
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^│ ○ ｋａｔ\\S*… ${fp2}$`)))
    // No member row is left without its name and fingerprint.
    expect(rows.filter((r) => /^│ ○\s*$/.test(r))).toEqual([])
  })

  it('drops the F2 hint from its title when the panel is too narrow for it, leaving no lone dot', () => {
    expect(panelRows(['bob'], 18)[0]).toBe('│ members (2) · F2')
    expect(panelRows(['bob'], 16)[0]).toBe('│ members (2)')
    expect(panelRows(['bob'], 17)[0]).toBe('│ members (2)')
  })

  it('keeps a name that fits as it is', () => {
    expect(panelRows(['carol'], 30)).toContainEqual(`│ ○ carol ${shortId('1'.repeat(64))}`)
  })

  it('cuts your own long name short before "(you)"', () => {
    const rows = panelRows([], 24, { id: self.id, name: 'a-very-long-name-of-my-own' })
    expect(rows[1]).toMatch(/^│ ● a-very-long-\S*… \(you\)$/)
  })

  it('on a narrow panel, puts the fingerprint under a name that would keep only a few cells beside it', () => {
    const fp = shortId('1'.repeat(64))
    for (const cols of [13, 14, 16]) {
      const rows = panelRows(['bob-with-a-longer-name'], cols)
      const at = rows.findIndex((r) => r.startsWith('│ ○ '))
      // The name keeps every cell the row has, and the fingerprint follows whole on the next row.
      expect(rows[at], `${cols} columns`).toMatch(/^│ ○ bob-\S*…$/)
      expect(rows[at + 1], `${cols} columns`).toBe(`│   ${fp}`)
    }
    // A short name still shares its row with the fingerprint.
    expect(panelRows(['al'], 16)).toContainEqual(`│ ○ al ${fp}`)
    // A wider panel keeps one row per member.
    expect(panelRows(['bob-with-a-longer-name'], 20)).toContainEqual(
      expect.stringMatching(new RegExp(`^│ ○ bob-\\S*… ${fp}$`)),
    )
  })

  it('shows a name told apart by its fingerprint once, the fingerprint beside it', () => {
    const labels = new PeerLabels(() => self)
    const bob = { id: '1'.repeat(64), name: 'bobby' }
    // Seen under two names: its label carries its fingerprint from then on.
    labels.observe({ type: 'member', peer: bob, via: 'direct', renamedFrom: 'bob' })
    const fp = shortId(bob.id)
    expect(labels.label(bob)).toBe(`bobby~${fp}`)
    const panel = new MemberPanel(labels, width)
    panel.set([{ peer: bob, direct: true, connected: false }])
    expect(panel.rows(self, 30, 5).map(rowText)).toContainEqual(`│ ○ bobby ${fp}`)
  })

  it('takes the name from the label, not from cutting its text: a name that ends as a label would stays whole', () => {
    // Core shows such a name from the network with a U+FFFD for its `~`; the panel does not count on it.
    const fp = shortId('1'.repeat(64))
    expect(panelRows([`bo~${fp}`], 30)).toContainEqual(`│ ○ bo~${fp} ${fp}`)
  })
})

describe('a neighbour whose link is down, in the panel', () => {
  const carol = { id: '3'.repeat(64), name: 'carol' }
  const fp = shortId(carol.id)
  function panelAfter(reason: string, left?: true): MemberPanel {
    const panel = new MemberPanel(new PeerLabels(() => self), width)
    panel.observe({ type: 'disconnected', peer: carol, reason, ...(left ? { left } : {}) })
    return panel
  }
  const mark = (panel: MemberPanel) =>
    panel
      .rows(self, 30, 5)
      .map(rowText)
      .find((r) => r.includes(fp))
      ?.slice(2, 3)

  /** Carol as the node lists her once her presence came through the mesh after the link went down. */
  function heardSince(present: boolean): MemberInfo {
    const later = Date.now() + 60_000
    return {
      peer: carol,
      direct: true,
      connected: false,
      throughMesh: true,
      lastSeen: later,
      present,
      hereAt: later,
    }
  }

  it('marks one whose link broke and whose leave came through the mesh since as gone', () => {
    const panel = panelAfter('connection closed')
    panel.set([heardSince(false)])
    expect(mark(panel)).toBe('·')
  })

  it('marks one that quit and came back through the mesh since as not gone', () => {
    const panel = panelAfter('carol left (brb)', true)
    panel.set([heardSince(true)])
    expect(mark(panel)).toBe('○')
    expect(panel.list()[0]).toMatch(/reachable through the mesh/)
  })
})

describe('member panel, a member reached through relays', () => {
  const carol = { id: '3'.repeat(64), name: 'carol' }
  const fp = shortId(carol.id)
  function markOf(connected: boolean): string | undefined {
    const panel = new MemberPanel(new PeerLabels(() => self), width)
    panel.set([{ peer: carol, direct: false, connected }])
    return panel
      .rows(self, 30, 5)
      .map(rowText)
      .find((r) => r.includes(fp))
      ?.slice(2, 3)
  }

  it('marks one the mesh reaches with ~', () => {
    expect(markOf(true)).toBe('~')
  })

  it('marks one no connected neighbour can reach as not connected, as /peers calls it unreachable', () => {
    expect(markOf(false)).toBe('○')
  })
})
