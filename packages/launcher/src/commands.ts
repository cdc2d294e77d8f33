/**
 * The commands typed while chatting, parsed the same way by every frontend. A line that starts with "/" is
 * a command; `//text` sends `/text`. An unknown `/word` gets a one-line hint and nothing is sent.
 */
import { type Address, AddressError, nameProblem } from '@parley/core'
import { isAddressInvite, keyProblemOf, parseAddress } from './transports.js'

export const COMMANDS = [
  { name: 'help', usage: '/help', about: 'list the commands' },
  { name: 'me', usage: '/me ACTION', about: 'send an action, shown as "* alice waves"' },
  {
    name: 'nick',
    usage: '/nick NAME',
    about: 'change your display name (peers see it on your next messages)',
  },
  {
    name: 'peers',
    usage: '/peers',
    about: "list the room's members: name, fingerprint, direct or through a relay, state",
  },
  {
    name: 'connect',
    usage: '/connect HOST:PORT',
    about: 'dial another peer (redialed until it answers); with --dht, a FINGERPRINT too',
  },
  {
    name: 'disconnect',
    usage: '/disconnect HOST:PORT',
    about: 'stop dialing an address (a mistyped /connect, a --peer gone for good) and close its link',
  },
  { name: 'members', usage: '/members', about: 'show or hide the member panel (also F2)' },
  { name: 'clear', usage: '/clear', about: 'clear the message pane (nothing is sent)' },
  { name: 'quit', usage: '/quit [REASON]', about: 'say bye to every peer and leave (they see the reason)' },
] as const

export type CommandName = (typeof COMMANDS)[number]['name']

/** The commands of a line-mode frontend: no member panel, no pane to clear. */
export const LINE_COMMANDS: readonly CommandName[] = [
  'help',
  'me',
  'nick',
  'peers',
  'connect',
  'disconnect',
  'quit',
]

export type Submission =
  | { readonly type: 'empty' }
  | { readonly type: 'message'; readonly body: string }
  | { readonly type: 'help' }
  | { readonly type: 'nick'; readonly name: string }
  | { readonly type: 'connect'; readonly address: Address }
  | { readonly type: 'disconnect'; readonly address: Address }
  | { readonly type: 'peers' }
  | { readonly type: 'members' }
  | { readonly type: 'me'; readonly action: string }
  | { readonly type: 'clear' }
  /** `reason`: what peers are told the user left with (`alice left (REASON)`), if anything was given. */
  | { readonly type: 'quit'; readonly reason?: string }
  /** Never sent: the user gets `hint` instead. */
  | { readonly type: 'invalid'; readonly hint: string }

export interface ParseOptions {
  /** The commands this frontend has (default: all). */
  readonly commands?: readonly CommandName[]
  /**
   * Lines read from a pipe: a `/word` that is not a command is sent as it is (a file of paths arrives
   * whole). On a terminal, it is a typo and gets a hint.
   */
  readonly lenient?: boolean
}

/**
 * `/me` travels as an ordinary, signed message body in the CTCP convention IRC uses, so relays and older
 * nodes carry it unchanged; frontends show it as an action.
 * @example actionBody('waves') // '\u0001ACTION waves\u0001'
 */
export function actionBody(action: string): string {
  return `\u0001ACTION ${action}\u0001`
}

/** The action text of a `/me` body (the closing \u0001 is optional, as in IRC), or undefined. */
export function parseAction(body: string): string | undefined {
  // Nearly every body is not an action: no regex for those.
  if (body.charCodeAt(0) !== 1) return undefined
  const match = /^\u0001ACTION (.*?)\u0001?$/su.exec(body)
  return match ? match[1] : undefined
}

/**
 * The action text of a later part of an action sent in parts (`more`): its body, less the closing \u0001
 * when it is the part that ends the line.
 * @example actionPartText('the rest\u0001', true) // 'the rest'
 */
export function actionPartText(body: string, endsLine: boolean): string {
  return endsLine && body.endsWith('\u0001') ? body.slice(0, -1) : body
}

/**
 * Whether `parseSubmission` takes the line as a message exactly as it is, as it does most lines (every
 * line of a piped file): it starts with a printable ASCII character other than `/` and does not end with
 * a joiner.
 */
export function isPlainSubmission(line: string): boolean {
  const first = line.charCodeAt(0)
  return first > 0x20 && first < 0x7f && first !== 0x2f && line.charCodeAt(line.length - 1) !== 0x200d
}

/** The longest `/quit` reason: what a `bye` may carry to peers. */
export const MAX_QUIT_REASON = 200

/** Turns a typed (or piped) line into what to do. */
export function parseSubmission(line: string, options: ParseOptions = {}): Submission {
  // Without the regular expression and the trim below.
  if (isPlainSubmission(line)) return { type: 'message', body: line }
  // A half-typed joiner at the end would glue the next emoji a peer sends onto ours.
  const text = line.replace(/\u200d+$/u, '')
  if (text.trim() === '') return { type: 'empty' }
  if (!text.startsWith('/')) return { type: 'message', body: text }
  if (text.startsWith('//')) return { type: 'message', body: text.slice(1) }
  const match = /^\/(\S*)\s*([\s\S]*)$/u.exec(text)
  const word = (match?.[1] ?? '').toLowerCase()
  const rest = (match?.[2] ?? '').trim()
  const known = options.commands ?? COMMANDS.map((c) => c.name)
  const name = (word === 'exit' ? 'quit' : word) as CommandName
  if (!known.includes(name)) {
    if (options.lenient) return { type: 'message', body: text }
    return {
      type: 'invalid',
      hint: `unknown command /${word} (nothing was sent): type /help for the list, or // to send a line starting with /`,
    }
  }
  switch (name) {
    case 'quit': {
      // Judged as it goes out, blank runs made one space, and counted as the bye counts it (UTF-16 units).
      const reason = rest.replace(/\s+/gu, ' ')
      if (reason.length > MAX_QUIT_REASON)
        return {
          type: 'invalid',
          hint: `/quit: a reason is at most ${MAX_QUIT_REASON} characters, an emoji counting as two or more (this one counts ${reason.length}); shorten it`,
        }
      return reason === '' ? { type: 'quit' } : { type: 'quit', reason }
    }
    case 'help':
    case 'clear':
    case 'peers':
    case 'members':
      return { type: name }
    case 'nick': {
      if (rest === '') return { type: 'invalid', hint: 'usage: /nick NAME' }
      const problem = nameProblem(rest)
      return problem ? { type: 'invalid', hint: `/nick: ${problem}` } : { type: 'nick', name: rest }
    }
    case 'connect': {
      if (rest === '')
        return { type: 'invalid', hint: 'usage: /connect HOST:PORT, for example /connect 127.0.0.1:4002' }
      try {
        return { type: 'connect', address: parseAddress(rest) }
      } catch (error) {
        if (!(error instanceof AddressError)) throw error
        if (isAddressInvite(rest))
          return {
            type: 'invalid',
            hint: `/connect takes HOST:PORT or a key, not an invite: /connect the invite's HOST:PORT, or start parley with --join INVITE to pin its key`,
          }
        const keyProblem = keyProblemOf(rest, error)
        if (keyProblem !== undefined)
          return {
            type: 'invalid',
            hint: `/connect: ${keyProblem}. Copy the key again from "parley id" on the other side, or use its parley:// invite`,
          }
        return {
          type: 'invalid',
          hint: `/connect needs HOST:PORT, as in /connect 127.0.0.1:4002 (${error.message})`,
        }
      }
    }
    case 'disconnect': {
      if (rest === '')
        return { type: 'invalid', hint: 'usage: /disconnect HOST:PORT, as given to /connect or --peer' }
      try {
        return { type: 'disconnect', address: parseAddress(rest) }
      } catch (error) {
        if (!(error instanceof AddressError)) throw error
        return {
          type: 'invalid',
          hint: `/disconnect needs an address this node dials, as in /disconnect 127.0.0.1:4002 (${error.message})`,
        }
      }
    }
    case 'me':
      return rest === '' ? { type: 'invalid', hint: 'usage: /me ACTION' } : { type: 'me', action: rest }
    default: {
      const _exhaustive: never = name
      return _exhaustive
    }
  }
}

/** The `/help` lines for a frontend's commands. */
export function helpLines(commands: readonly CommandName[]): string[] {
  const shown = COMMANDS.filter((c) => commands.includes(c.name))
  // One column for the usages, as wide as the widest of them: the descriptions line up.
  const column = Math.max('//text'.length, ...shown.map((c) => c.usage.length)) + 1
  const lines = shown.map((c) => `${c.usage.padEnd(column)} ${c.about}`)
  lines.push(`${'//text'.padEnd(column)} send a line that starts with /`)
  return lines
}

export interface Completion {
  /** Offsets of the word being completed in the line. */
  readonly from: number
  readonly to: number
  /** Candidates, each ready to be put in place of the word. */
  readonly candidates: readonly string[]
}

/**
 * What Tab can put in place of the word before the cursor: a command name at the start of the line, else a
 * peer name (with ": " when it starts the line, as in IRC).
 */
export function completions(
  line: string,
  cursor: number,
  names: readonly string[],
  commands: readonly CommandName[] = COMMANDS.map((c) => c.name),
): Completion | undefined {
  const before = line.slice(0, cursor)
  const match = /(\S*)$/u.exec(before)
  const word = match?.[1] ?? ''
  const from = cursor - word.length
  if (from === 0 && word.startsWith('/') && !word.startsWith('//')) {
    const prefix = word.slice(1).toLowerCase()
    const candidates = COMMANDS.filter((c) => commands.includes(c.name) && c.name.startsWith(prefix)).map(
      (c) => `/${c.name} `,
    )
    return candidates.length > 0 ? { from, to: cursor, candidates } : undefined
  }
  if (word === '') return undefined
  const lower = word.toLowerCase()
  const unique = [...new Set(names)].filter((n) => n.toLowerCase().startsWith(lower)).sort()
  if (unique.length === 0) return undefined
  const suffix = from === 0 ? ': ' : ' '
  return { from, to: cursor, candidates: unique.map((n) => n + suffix) }
}
