import { MAX_LINES_PER_MSG } from './schema.js'

/**
 * Lines carried together: a `msg` with `lines` holds that many lines of its sender's, one per newline-cut
 * piece of its body, each a message of its own to whoever shows or keeps it. One message, one chain link,
 * one signature and one journal record then serve a few dozen piped lines instead of one.
 */

/**
 * Lines are gathered into one message up to this many characters of body. Small enough that a message's
 * lines, with their prefixes, fit one atomic write of the line display (4,000 bytes) in the common case,
 * so a kill shows none of them twice; large enough that a piped file's per-message costs all but vanish.
 */
export const LINES_PER_MSG_CHARS = 2_000

/** The id of line `index` of a message: the message's own for its first line, `id.index` for the others. */
export function lineId(id: string, index: number): string {
  return index === 0 ? id : `${id}.${index}`
}

/** The lines a message stands for: its body cut at newlines when it carries `lines`, else its body whole. */
export function linesOf(msg: { readonly body: string; readonly lines?: number | undefined }): string[] {
  return msg.lines === undefined ? [msg.body] : msg.body.split('\n')
}

/** A count of lines a message may carry (`msg.lines`): 2 up to one more than a body's longest. */
export function isLineCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 2 && (value as number) <= MAX_LINES_PER_MSG
}
