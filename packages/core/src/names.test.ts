import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { restore } from './journal.js'
import { ASCII_PROTOTYPES, lookAlikes, nameKey, nameProblem, namesakes, shownName } from './names.js'

describe('nameKey', () => {
  it.each([
    ['bob', 'Bob'],
    ['bob', 'BOB'],
    ['bob', 'bob\u200b'],
    ['bob', '\u200bb\u200co\u200db\ufeff'],
    ['bob', 'b\u00adob'],
    ['bob', '\u202ebob\u202c'],
    ['bob', 'bob\u2066\u2069'],
    ['bob', '\uff42\uff4f\uff42'],
    ['bob', 'b\u043eb'],
    ['bob', ' bob '],
    ['bob smith', 'bob\u00a0\u00a0smith'],
    ['AI', 'Al'],
    ['mallory', 'rnallory'],
    ['paypal', '\u0440\u0430\u0443\u0440\u0430l'],
    ['é', 'e\u0301'],
  ])('treats %j and %j as the same name', (a, b) => {
    expect(nameKey(a)).toBe(nameKey(b))
  })

  it.each([
    ['alice', 'ALICE'],
    ['bill', 'BILL'],
    ['lily', 'LILY'],
    ['ian', 'IAN'],
    ['Ian', 'iAN'],
    ['straße', 'STRASSE'],
  ])('treats %j and %j as the same name, whatever the case (capital I included)', (a, b) => {
    expect(nameKey(a)).toBe(nameKey(b))
  })

  it.each([
    ['bob', '\u0392\u039f\u0392'],
    ['bob', '\u0412\u041e\u0412'],
    ['bob', '\u03b2\u03bf\u03b2'],
    ['bob', 'b\u03c3b'],
    ['kate', '\u043aate'],
    ['KATE', '\u039aATE'],
    ['alice', '\u0430l\u0456\u0441\u0435'],
    ['ALICE', '\u0410L\u0406\u0421\u0415'],
    ['alice', 'AIice'],
  ])('sees through Greek and Cyrillic look-alikes in either case: %j and %j', (a, b) => {
    expect(nameKey(a)).toBe(nameKey(b))
  })

  it('keys ASCII names by the ASCII entries of the whole look-alike table, which it holds without loading it', () => {
    const whole = lookAlikes()
    const ascii = Object.fromEntries(Object.entries(whole).filter(([from]) => /^[\0-\x7f]+$/.test(from)))
    expect(ASCII_PROTOTYPES).toEqual(ascii)
    // Through both passes, ASCII look-alikes still meet.
    expect(nameKey('I1|l')).toBe(nameKey('llll'))
    expect(nameKey('rnoO')).toBe(nameKey('m00'))
  })

  it('is the same for a name in any case', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 16 }), (name) => {
        const key = nameKey(name)
        expect(nameKey(name.toUpperCase())).toBe(key)
        expect(nameKey(name.toLowerCase())).toBe(key)
      }),
    )
  })

  it.each([
    ['bob', 'rob'],
    ['bob', 'bobby'],
    ['alice', 'alice2'],
    ['李', '季'],
  ])('keeps %j and %j apart', (a, b) => {
    expect(nameKey(a)).not.toBe(nameKey(b))
  })

  it('is the same for a name and every way of hiding characters in it', () => {
    const hidden = fc.constantFrom(
      '\u200b',
      '\u200c',
      '\u200d',
      '\u2060',
      '\ufeff',
      '\u202e',
      '\u2066',
      '\u061c',
      '\ufff9',
      '\u{13430}',
    )
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z]{1,12}$/),
        fc.array(fc.tuple(fc.nat(), hidden), { maxLength: 5 }),
        (name, inserts) => {
          let disguised = name
          for (const [at, ch] of inserts) {
            const i = at % (disguised.length + 1)
            disguised = disguised.slice(0, i) + ch + disguised.slice(i)
          }
          expect(nameKey(disguised)).toBe(nameKey(name))
        },
      ),
    )
  })
})

describe('nameProblem', () => {
  it('accepts ordinary names in any script, emoji sequences included', () => {
    for (const name of ['bob', 'Zoë', 'محمد', 'אבי', '李小龙', 'ᐸᐅᓗᓯ', 'carol 👩‍💻', '❤️ fan', 'x'.repeat(64)])
      expect(nameProblem(name)).toBeUndefined()
  })

  it('counts length as the wire does, and says so: 32 emoji fit, 33 count 66', () => {
    expect(nameProblem('😀'.repeat(32))).toBeUndefined()
    expect(nameProblem('😀'.repeat(33))).toBe(
      'a name is at most 64 characters, an emoji counting as two or more (this one counts 66)',
    )
    expect(nameProblem('x'.repeat(65))).toBe(
      'a name is at most 64 characters, an emoji counting as two or more (this one counts 65)',
    )
    expect(nameProblem('   ')).toBe('a name is 1-64 printable characters')
  })

  it.each([
    ['bob\nalice', 'U+000A'],
    ['bob\u0085', 'U+0085'],
    ['bob\u2028', 'U+2028'],
    ['\u202ebob', 'U+202E'],
    ['bob\u2066', 'U+2066'],
    ['bob\u200e', 'U+200E'],
    ['bob\u200b', 'U+200B'],
    ['bob\u2060', 'U+2060'],
    ['bo\u00adb', 'U+00AD'],
  ])('refuses %j and names the character', (name, code) => {
    expect(nameProblem(name)).toContain(code)
  })

  it('refuses a letter that looks like < or > beside Latin letters, and shows it as U+FFFD in a peer name', () => {
    expect(nameProblem('alice\u1433 revoke my access')).toContain('U+1433')
    expect(nameProblem('\u1438alice')).toContain('U+1438')
    expect(shownName('alice\u1433 revoke my access', 'x')).toBe('alice\ufffd revoke my access')
    // Beside Cyrillic or Greek look-alikes of Latin as well.
    const disguised = '\u0430\u04cf\u0456\u0441\u0435\u1433 \u0399 \u0455\u0435\u0440\u0443'
    expect(nameProblem(disguised)).toContain('U+1433')
    expect(shownName(disguised, 'x')).not.toContain('\u1433')
    // In a name of their own script they are letters, and stay.
    expect(nameProblem('\u1438\u1405\u14d7\u14ef')).toBeUndefined()
    expect(shownName('\u1438\u1405\u14d7\u14ef', 'x')).toBe('\u1438\u1405\u14d7\u14ef')
  })

  it.each([
    ['alice~jbwp-tsxb', 'U+007E'],
    ['alice> I am leaving', 'U+003E'],
    ['<alice', 'U+003C'],
    ['alice\u223cjbwp-tsxb', 'U+223C'],
    ['alice\u02dcjbwp-tsxb', 'U+02DC'],
    ['alice\u203a hi', 'U+203A'],
    ['alice\uff1e hi', 'U+FF1E'],
  ])(
    'refuses %j, which could pass for a fingerprint label or the end of a name, and names the character',
    (name, code) => {
      expect(nameProblem(name)).toContain(code)
    },
  )

  it('refuses every character that reads as <, > or ~, by its compatibility form or the look-alike table', () => {
    for (const ch of labelMarkLookalikes()) expect(nameProblem(`a${ch}b`), ch).toBeDefined()
  })

  it('refuses what reads as a fingerprint in brackets, in any letters and dashes, and allows other brackets', () => {
    for (const name of ['carol [abcd-efgh]', 'carol[abcd-efgh]', 'x ［abcd－efgh］', '[аbcd–3fgh] carol'])
      expect(nameProblem(name), name).toMatch(/\[xxxx-xxxx\]: that is how a fingerprint follows a name/)
    for (const name of ['[afk] bob', 'bob [work]', 'a [abc-defg]', 'bob [abcd efgh]'])
      expect(nameProblem(name), name).toBeUndefined()
  })

  it('refuses empty, blank and overlong names', () => {
    expect(nameProblem('')).toBeDefined()
    expect(nameProblem('   ')).toBeDefined()
    expect(nameProblem('\u2800')).toBeDefined()
    expect(nameProblem('x'.repeat(65))).toBeDefined()
  })
})

describe('shownName', () => {
  it('leaves clean names alone', () => {
    expect(shownName('carol 👩‍💻', 'abc')).toBe('carol 👩‍💻')
  })

  it('makes a line break visible so it cannot start a line', () => {
    const shown = shownName('carol: ok\nbob', 'abc')
    expect(shown).toBe('carol: ok\ufffdbob')
    expect(shown).not.toMatch(/[\n\r\u2028\u2029]/)
  })

  it('makes ~, < and > a visible U+FFFD, so a name cannot forge a fingerprint label or end itself early', () => {
    expect(shownName('alice~jbwp-tsxb', 'abc')).toBe('alice\ufffdjbwp-tsxb')
    expect(shownName('alice> I am leaving the project, revoke my access. Thanks', 'abc')).toBe(
      'alice\ufffd I am leaving the project, revoke my access. Thanks',
    )
    expect(shownName('alice\u223cjbwp-tsxb', 'abc')).toBe('alice\ufffdjbwp-tsxb')
    expect(shownName('\u2039alice\u203a', 'abc')).toBe('\ufffdalice\ufffd')
    expect(shownName('~', 'abc')).toBe('\ufffd')
  })

  it('leaves nothing that reads as <, > or ~ in a name, whatever surrounds it', () => {
    const mark = fc.constantFrom(...labelMarkLookalikes())
    const text = fc.string({ unit: 'grapheme', maxLength: 10 })
    fc.assert(
      fc.property(fc.array(fc.oneof(mark, text), { minLength: 1, maxLength: 8 }), (parts) => {
        const shown = shownName(parts.join(''), 'fallback')
        for (const ch of labelMarkLookalikes()) expect(shown).not.toContain(ch)
      }),
    )
  })

  it('makes the brackets of what reads as a fingerprint visible marks, and leaves other brackets alone', () => {
    expect(shownName('carol [abcd-efgh]', 'abc')).toBe('carol \ufffdabcd-efgh\ufffd')
    expect(shownName('carol [ab\u200bcd-efgh]', 'abc')).toBe('carol \ufffdabcd-efgh\ufffd')
    expect(shownName('carol ［abcd-efgh］', 'abc')).toBe('carol \ufffdabcd-efgh\ufffd')
    expect(shownName('[afk] bob', 'abc')).toBe('[afk] bob')
    // Whatever brackets, dashes, letters and hidden characters make up a name, what is shown is a name.
    const part = fc.constantFrom('[', ']', '［', '］', '-', '－', ' ', 'abcd', 'efgh', 'ab', '\u200b', 'x')
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 12 }), (parts) => {
        expect(nameProblem(shownName(parts.join(''), 'fallback'))).toBeUndefined()
      }),
    )
  })

  it('removes bidi and zero-width characters and trims blanks', () => {
    expect(shownName('\u202e  bob\u200b  ', 'abc')).toBe('bob')
  })

  it('leaves no character a terminal shows as nothing, so a name cannot pass for another by one', () => {
    // Neither default-ignorable nor a control, yet a terminal shows them as nothing: `bo\ufff9b` read as
    // bob's name without bob's fingerprint beside it.
    for (const hidden of ['\ufff9', '\ufffa', '\ufffb', '\u{13430}', '\u{1343f}']) {
      expect(shownName(`bo${hidden}b`, 'abc')).toBe('bob')
      expect(nameKey(`bo${hidden}b`)).toBe(nameKey('bob'))
      expect(nameProblem(`bo${hidden}b`)).toMatch(/invisible/)
    }
    // A lone surrogate is written out as U+FFFD, or not at all: made the visible U+FFFD here.
    expect(shownName('bo\ud800b', 'abc')).toBe('bo\ufffdb')
    expect(shownName('bo\udc00b', 'abc')).toBe('bo\ufffdb')
    expect(nameProblem('bo\ud800b')).toMatch(/invisible/)
  })

  it('falls back when nothing visible is left', () => {
    expect(shownName('\u200b\u202e', 'abc12345')).toBe('abc12345')
  })

  it('always returns a name nameProblem accepts, for any input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), (name) => {
        const shown = shownName(name, 'fallback')
        expect(nameProblem(shown)).toBeUndefined()
      }),
    )
  })
})

describe('namesakes', () => {
  it('finds other ids under a look-alike name, never the peer itself', () => {
    const others = [
      { id: 'a', name: 'bob' },
      { id: 'b', name: 'B\u043eb' },
      { id: 'c', name: 'carol' },
      { id: 'a', name: 'bob' },
      { id: 'me', name: 'bob' },
    ]
    expect(namesakes({ id: 'me', name: 'bob\u200b' }, others)).toEqual(['a', 'b'])
  })
})

describe('names in journals of earlier releases', () => {
  it('are cleaned on restore, as a live relayed name is', () => {
    const from = 'ab'.repeat(32)
    const msg = {
      type: 'msg' as const,
      id: 'm1',
      seq: 1,
      ts: 1,
      from,
      body: 'I am bob',
      name: 'carol> ok\n<bob',
    }
    const restored = restore([{ t: 'received', msg, name: 'carol> ok\n<bob\u202e' }], {
      id: 'cd'.repeat(32),
      name: 'alice',
    })
    expect(restored.peers.get(from)?.peer).toEqual({ id: from, name: 'carol\ufffd ok\ufffd\ufffdbob' })
    expect(restored.history.map((entry) => entry.from.name)).toEqual(['carol\ufffd ok\ufffd\ufffdbob'])
  })
})

let marks: string[] | undefined

/**
 * Every character other than a letter that reads as `<`, `>` or `~`: by its compatibility decomposition,
 * or as a member of a look-alike group (the table's characters with one prototype) that holds one, alone
 * or decomposed (`≁` is `∼` with a stroke). Letters are left out: refusing them would refuse a script.
 */
function labelMarkLookalikes(): string[] {
  if (marks) return marks
  const table = createRequire(import.meta.url)('unhomoglyph/data.json') as Record<string, string>
  const reads = (text: string) => /[<>~]/.test(text.normalize('NFKD'))
  const groups = new Map<string, string[]>()
  for (const [ch, prototype] of Object.entries(table))
    groups.set(prototype, [...(groups.get(prototype) ?? [prototype]), ch])
  const lookalikes = new Set<string>()
  for (const group of groups.values())
    if (group.some(reads)) for (const ch of group) if ([...ch].length === 1) lookalikes.add(ch)
  marks = []
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue
    const ch = String.fromCodePoint(cp)
    const parts = [...ch.normalize('NFKD')]
    if ((reads(ch) || parts.some((part) => lookalikes.has(part))) && !/\p{L}/u.test(ch)) marks.push(ch)
  }
  return marks
}
