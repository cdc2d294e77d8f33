import { describe, expect, it } from 'vitest'
import {
  actionBody,
  COMMANDS,
  completions,
  helpLines,
  LINE_COMMANDS,
  parseAction,
  parseSubmission,
} from './commands.js'

describe('commands', () => {
  it('sends ordinary text, and //text as a line starting with /', () => {
    expect(parseSubmission('hello')).toEqual({ type: 'message', body: 'hello' })
    expect(parseSubmission('//etc/hosts')).toEqual({ type: 'message', body: '/etc/hosts' })
    expect(parseSubmission('   ')).toEqual({ type: 'empty' })
  })

  it('keeps a line as it was typed, but for a half-typed joiner at its end', () => {
    expect(parseSubmission('a line ')).toEqual({ type: 'message', body: 'a line ' })
    expect(parseSubmission(' indented')).toEqual({ type: 'message', body: ' indented' })
    expect(parseSubmission('family \u{1f468}\u200d\u200d')).toEqual({
      type: 'message',
      body: 'family \u{1f468}',
    })
    expect(parseSubmission('\u200d')).toEqual({ type: 'empty' })
    expect(parseSubmission('\u00e9t\u00e9')).toEqual({ type: 'message', body: '\u00e9t\u00e9' })
  })

  it('understands /help, /nick, /connect, /me, /clear and /quit', () => {
    expect(parseSubmission('/help')).toEqual({ type: 'help' })
    expect(parseSubmission('/nick carol')).toEqual({ type: 'nick', name: 'carol' })
    expect(parseSubmission('/connect 127.0.0.1:4002')).toEqual({
      type: 'connect',
      address: '127.0.0.1:4002',
    })
    expect(parseSubmission('/me waves')).toEqual({ type: 'me', action: 'waves' })
    expect(parseSubmission('/clear')).toEqual({ type: 'clear' })
    expect(parseSubmission('/QUIT')).toEqual({ type: 'quit' })
  })

  it('sends an invite given to /connect to --join, with the address it holds as the way to /connect', () => {
    expect(parseSubmission(`/connect parley://127.0.0.1:4001/${'a'.repeat(64)}`)).toEqual({
      type: 'invalid',
      hint: expect.stringMatching(/^\/connect takes HOST:PORT or a key, not an invite: .*--join INVITE/),
    })
  })

  it('understands /disconnect with an address, and explains one without', () => {
    expect(parseSubmission('/disconnect 127.0.0.1:4002')).toEqual({
      type: 'disconnect',
      address: '127.0.0.1:4002',
    })
    expect(parseSubmission('/disconnect')).toEqual({
      type: 'invalid',
      hint: 'usage: /disconnect HOST:PORT, as given to /connect or --peer',
    })
    expect(parseSubmission('/disconnect nowhere')).toMatchObject({
      type: 'invalid',
      hint: expect.stringMatching(
        /^\/disconnect needs an address this node dials, as in \/disconnect 127\.0\.0\.1:4002 \(/,
      ),
    })
  })

  it('understands /peers and /members, and //peers is a message', () => {
    expect(parseSubmission('/peers')).toEqual({ type: 'peers' })
    expect(parseSubmission('/members')).toEqual({ type: 'members' })
    expect(parseSubmission('//peers')).toEqual({ type: 'message', body: '/peers' })
  })

  it('answers an unknown command with a one-line hint instead of sending it', () => {
    const result = parseSubmission('/frobnicate now')
    expect(result.type).toBe('invalid')
    expect(result.type === 'invalid' && result.hint).toMatch(/^unknown command \/frobnicate .*\/help/)
    expect(result.type === 'invalid' && result.hint).not.toContain('\n')
  })

  it('explains bad arguments', () => {
    expect(parseSubmission('/nick')).toMatchObject({ type: 'invalid', hint: 'usage: /nick NAME' })
    expect(parseSubmission(`/nick ${'x'.repeat(65)}`)).toMatchObject({ type: 'invalid' })
    // A name with ~, < or > could pass for a fingerprint label (alice~jbwp-tsxb) or end `<name>` early.
    expect(parseSubmission('/nick alice~jbwp-tsxb')).toMatchObject({
      type: 'invalid',
      hint: expect.stringMatching(/^\/nick: .*U\+007E/),
    })
    expect(parseSubmission('/nick alice> bye')).toMatchObject({
      type: 'invalid',
      hint: expect.stringMatching(/U\+003E/),
    })
    expect(parseSubmission('/connect nowhere')).toMatchObject({
      type: 'invalid',
      hint: expect.stringMatching(
        /^\/connect needs HOST:PORT, as in \/connect 127\.0\.0\.1:4002 \(bad address/,
      ),
    })
    expect(parseSubmission('/me')).toMatchObject({ type: 'invalid' })
  })

  it('says what is wrong with a mistyped key instead of asking for HOST:PORT', () => {
    const key = 'ab'.repeat(32)
    const hint = (rest: string) => {
      const result = parseSubmission(`/connect ${rest}`)
      expect(result.type).toBe('invalid')
      const text = result.type === 'invalid' ? result.hint : ''
      // Every one of them says what to do, in one line, and none asks for a port.
      expect(text).toMatch(
        /Copy the key again from "parley id" on the other side, or use its parley:\/\/ invite$/,
      )
      expect(text).not.toMatch(/HOST:PORT|\n/)
      return text
    }
    expect(hint(key.slice(0, 63))).toMatch(
      /^\/connect: "abababababab…" has 63 hex characters where a key has 64\./,
    )
    expect(hint(`${key}a`)).toMatch(/has 65 hex characters where a key has 64/)
    expect(hint(`zz${key.slice(2)}`)).toMatch(/is not a hex key: "z" at position 1 is not 0-9 or a-f/)
    expect(hint(`${key.slice(0, 40)}g${key.slice(41)}`)).toMatch(/"g" at position 41/)
    expect(hint('abcd-efgh-ijk')).toMatch(/is not a key: expected 64 hex characters, a full fingerprint/)
    expect(hint('abcd-efgh')).toMatch(/is a short fingerprint/)
    expect(hint('parley://abcd')).toMatch(/invite has a bad fingerprint/)
    expect(hint(`dht:${key.slice(1)}`)).toMatch(/expected dht: and a 64-hex key/)
    // A well-formed key still dials, and a host name without a port still gets the HOST:PORT hint.
    expect(parseSubmission(`/connect ${key}`)).toEqual({ type: 'connect', address: `dht:${key}` })
    for (const host of ['nowhere', 'deadbeef', 'my-web-host', '127.0.0.1'])
      expect(parseSubmission(`/connect ${host}`)).toMatchObject({
        type: 'invalid',
        hint: expect.stringMatching(/^\/connect needs HOST:PORT/),
      })
  })

  it('never sends a trailing, half-typed joiner', () => {
    expect(parseSubmission('hi 👨\u200d')).toEqual({ type: 'message', body: 'hi 👨' })
  })

  it('carries /me as a CTCP ACTION body and reads it back', () => {
    expect(actionBody('waves')).toBe('\u0001ACTION waves\u0001')
    expect(parseAction(actionBody('waves'))).toBe('waves')
    expect(parseAction('\u0001ACTION shrugs')).toBe('shrugs')
    expect(parseAction('ACTION not really')).toBeUndefined()
  })
})

describe('tab completion', () => {
  it('completes command names at the start of the line', () => {
    expect(completions('/co', 3, [])?.candidates).toEqual(['/connect '])
    expect(completions('/', 1, [])?.candidates).toHaveLength(9)
    expect(completions('/di', 3, [])?.candidates).toEqual(['/disconnect '])
    expect(completions('/pe', 3, [])?.candidates).toEqual(['/peers '])
    expect(completions('/zz', 3, [])).toBeUndefined()
  })

  it('completes peer names, with ": " at the start of the line', () => {
    expect(completions('bo', 2, ['bob', 'alice'])).toEqual({ from: 0, to: 2, candidates: ['bob: '] })
    expect(completions('hi B', 4, ['bob', 'Bea'])?.candidates).toEqual(['Bea ', 'bob '])
    expect(completions('hi ', 3, ['bob'])).toBeUndefined()
  })
})

describe('the same commands in line mode', () => {
  const line = { commands: LINE_COMMANDS }

  it('understands /help, /me, /nick, /peers, /connect and /quit, and never sends a typo', () => {
    expect(parseSubmission('/help', line)).toEqual({ type: 'help' })
    expect(parseSubmission('/me waves', line)).toEqual({ type: 'me', action: 'waves' })
    expect(parseSubmission('/quit', line)).toEqual({ type: 'quit' })
    expect(parseSubmission('/quit  back   tomorrow ', line)).toEqual({
      type: 'quit',
      reason: 'back tomorrow',
    })
    expect(parseSubmission(`/quit ${'x'.repeat(201)}`, line)).toEqual({
      type: 'invalid',
      hint: '/quit: a reason is at most 200 characters, an emoji counting as two or more (this one counts 201); shorten it',
    })
    // Counted as the bye carries it: an emoji as two, blank runs as the one space they become.
    expect(parseSubmission(`/quit ${'x'.repeat(199)}\u{1F600}`, line)).toMatchObject({
      type: 'invalid',
      hint: expect.stringContaining('(this one counts 201)'),
    })
    const spaced = `${'x '.repeat(99)}x`
    expect(parseSubmission(`/quit ${spaced.replaceAll(' ', '   ')}`, line)).toEqual({
      type: 'quit',
      reason: spaced,
    })
    expect(parseSubmission('/members', line)).toMatchObject({ type: 'invalid' })
    expect(parseSubmission('/hlep', line)).toMatchObject({
      type: 'invalid',
      hint: expect.stringMatching(/^unknown command \/hlep/),
    })
  })

  it('sends a piped line that only looks like a command as it is, so a file arrives whole', () => {
    const piped = { commands: LINE_COMMANDS, lenient: true }
    expect(parseSubmission('/usr/bin/env', piped)).toEqual({ type: 'message', body: '/usr/bin/env' })
    expect(parseSubmission('/me waves', piped)).toEqual({ type: 'me', action: 'waves' })
  })

  it('lists in /help only the commands the frontend has, and how to send a slash', () => {
    const help = helpLines(LINE_COMMANDS).join('\n')
    expect(help).toMatch(/\/me ACTION/)
    expect(help).toMatch(/\/\/text/)
    expect(help).not.toMatch(/\/members/)
  })

  it('lines up every description in /help, however long the longest usage', () => {
    const lines = helpLines(COMMANDS.map((c) => c.name))
    // Each usage is padded with at least two spaces: its description starts after the first such run.
    const starts = lines.map((l) => {
      const pad = / {2,}(?=\S)/.exec(l)
      return pad ? pad.index + pad[0].length : -1
    })
    expect(lines.some((l) => l.startsWith('/disconnect HOST:PORT'))).toBe(true)
    expect(new Set(starts).size).toBe(1)
  })
})
