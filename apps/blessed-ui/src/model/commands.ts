import { type Address, AddressError } from '@parley/core'
import { parseAddress } from '@parley/launcher'

/** The commands typed in the input line. `//text` sends a line that starts with "/". */
export const COMMANDS = [
  { name: 'help', usage: '/help', about: 'list commands and keys' },
  {
    name: 'nick',
    usage: '/nick NAME',
    about: 'change your display name (peers see it when they next connect)',
  },
  { name: 'connect', usage: '/connect HOST:PORT', about: 'dial another peer (redialed until it answers)' },
  {
    name: 'peers',
    usage: '/peers',
    about: "list the room's members: name, fingerprint, direct or through a relay, state",
  },
  { name: 'members', usage: '/members', about: 'show or hide the member panel (also F2)' },
  { name: 'me', usage: '/me ACTION', about: 'send an action, shown as "* alice waves"' },
  { name: 'clear', usage: '/clear', about: 'clear the message pane (nothing is sent)' },
  { name: 'quit', usage: '/quit', about: 'say bye to every peer and leave' },
] as const

export type CommandName = (typeof COMMANDS)[number]['name']

export type Submission =
  | { readonly type: 'empty' }
  | { readonly type: 'message'; readonly body: string }
  | { readonly type: 'help' }
  | { readonly type: 'nick'; readonly name: string }
  | { readonly type: 'connect'; readonly address: Address }
  | { readonly type: 'peers' }
  | { readonly type: 'members' }
  | { readonly type: 'me'; readonly action: string }
  | { readonly type: 'clear' }
  | { readonly type: 'quit' }
  /** Never sent: the user gets `hint` instead. */
  | { readonly type: 'invalid'; readonly hint: string }

/**
 * `/me` travels as an ordinary message body in the CTCP convention IRC uses, so any client can show it raw.
 * @example actionBody('waves') // '\u0001ACTION waves\u0001'
 */
export function actionBody(action: string): string {
  return `\u0001ACTION ${action}\u0001`
}

/** The action text of a `/me` body, or undefined for an ordinary message. */
export function parseAction(body: string): string | undefined {
  const match = /^\u0001ACTION (.*?)\u0001?$/su.exec(body)
  return match ? match[1] : undefined
}

/** Checks a display name the same way `--name` is checked: 1-64 printable characters. */
export function nameProblem(name: string): string | undefined {
  if (name.trim() === '' || name.length > 64 || /[\p{Cc}]/u.test(name))
    return 'a name is 1-64 printable characters'
  return undefined
}

/** Turns what was typed into what to do. */
export function parseSubmission(line: string): Submission {
  // A half-typed joiner at the end would glue the next emoji a peer sends onto ours.
  const text = line.replace(/\u200d+$/u, '')
  if (text.trim() === '') return { type: 'empty' }
  if (!text.startsWith('/')) return { type: 'message', body: text }
  if (text.startsWith('//')) return { type: 'message', body: text.slice(1) }
  const match = /^\/(\S*)\s*([\s\S]*)$/u.exec(text)
  const name = (match?.[1] ?? '').toLowerCase()
  const rest = (match?.[2] ?? '').trim()
  switch (name) {
    case 'help':
      return { type: 'help' }
    case 'quit':
    case 'exit':
      return { type: 'quit' }
    case 'clear':
      return { type: 'clear' }
    case 'peers':
      return { type: 'peers' }
    case 'members':
      return { type: 'members' }
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
        if (error instanceof AddressError) return { type: 'invalid', hint: `/connect: ${error.message}` }
        throw error
      }
    }
    case 'me':
      return rest === '' ? { type: 'invalid', hint: 'usage: /me ACTION' } : { type: 'me', action: rest }
    default:
      return {
        type: 'invalid',
        hint: `unknown command /${name} (nothing was sent): type /help for the list, or // to send a line starting with /`,
      }
  }
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
export function completions(line: string, cursor: number, names: readonly string[]): Completion | undefined {
  const before = line.slice(0, cursor)
  const match = /(\S*)$/u.exec(before)
  const word = match?.[1] ?? ''
  const from = cursor - word.length
  if (from === 0 && word.startsWith('/') && !word.startsWith('//')) {
    const prefix = word.slice(1).toLowerCase()
    const candidates = COMMANDS.filter((c) => c.name.startsWith(prefix)).map((c) => `/${c.name} `)
    return candidates.length > 0 ? { from, to: cursor, candidates } : undefined
  }
  if (word === '') return undefined
  const lower = word.toLowerCase()
  const unique = [...new Set(names)].filter((n) => n.toLowerCase().startsWith(lower)).sort()
  if (unique.length === 0) return undefined
  const suffix = from === 0 ? ': ' : ' '
  return { from, to: cursor, candidates: unique.map((n) => n + suffix) }
}
