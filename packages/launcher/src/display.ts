/**
 * Control characters (C0 but tab and newline, DEL, C1), bidi controls (they turn the rest of the line
 * around: U+061C, U+200E-200F, U+202A-202E, U+2066-2069) and the line and paragraph separators.
 */
const UNSAFE_IN_TEXT =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/** The same, plus tab and newline: for text that must stay on one line (names, status lines). */
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * What a catch-up holds besides messages sent while this node was away: those the last run received and
 * ended before marking as shown (a kill, a closed stdout), those sent before its first run began (it joined, it was
 * not away), and those sent while it ran, held up on the way (a peer or a relay was away, or the link).
 */
export interface CatchUpKinds {
  readonly replayed: number
  readonly beforeJoining: number
  readonly heldUp: number
}

/** The kinds of a catch-up's messages, from their flags (`ShownMessage`). */
export function catchUpKinds(
  messages: readonly { readonly replayed?: true; readonly beforeJoining?: true; readonly heldUp?: true }[],
): CatchUpKinds {
  let replayed = 0
  let beforeJoining = 0
  let heldUp = 0
  for (const m of messages) {
    if (m.replayed) replayed++
    else if (m.beforeJoining) beforeJoining++
    else if (m.heldUp) heldUp++
  }
  return { replayed, beforeJoining, heldUp }
}

/**
 * What a catch-up of `count` messages is, after its count, for the line above it (both apps): from while
 * this node was away, from before it joined, held up on the way, or messages the last run received and
 * ended before marking as shown; a mix names each kind it holds. Those "may not have" been shown: on a
 * terminal or a pipe, the one write a kill parts from its mark reached the reader and comes again.
 */
export function catchUpWhat(count: number, kinds: CatchUpKinds): string {
  const { replayed, beforeJoining, heldUp } = kinds
  if (replayed >= count) return 'the last run received and may not have shown'
  const away = count - replayed - beforeJoining - heldUp
  const what = [
    away > 0 ? 'from while you were away' : undefined,
    beforeJoining > 0 ? 'from before you joined' : undefined,
    heldUp > 0 ? 'held up on the way' : undefined,
  ].filter((phrase) => phrase !== undefined)
  const text = what.length === 0 ? 'from while you were away' : what.join(' or ')
  return replayed === 0
    ? text
    : `${text} (${countText(replayed)} of them received by the last run, maybe not shown)`
}

/** A count as status lines print it: `20,000`, so a long number reads at a glance. */
export function countText(n: number): string {
  // By hand: the first `toLocaleString` or `Intl.NumberFormat` loads ICU's locale data, about 25 ms of
  // a one-shot send's exit, for a comma every three digits.
  const digits = String(Math.trunc(Math.abs(n)))
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1)
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`
  return n < 0 ? `-${out}` : out
}

/**
 * Makes text from the network safe to print on a terminal: control characters and escape sequences
 * become visible (`^[`), so a peer cannot move the cursor, recolour or retitle the screen, and bidi
 * controls and line separators become visible (`\u202e`), so it cannot turn text around. Newlines and
 * tabs are kept: use it for message bodies, whose continuation lines the frontend indents.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_IN_TEXT, visible)
}

/**
 * `terminalSafe` for text that must stay on one line: a name or a status line, where a newline from a
 * peer would start a line of its own (`<bob> wire the money` at column 0). Newlines become `^J`.
 */
export function terminalLine(text: string): string {
  return text.replace(UNSAFE_IN_LINE, visible)
}

function visible(c: string): string {
  const code = c.charCodeAt(0)
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`
  return `\\u${code.toString(16).padStart(4, '0')}`
}

/** `HH:MM:SS` in local time; `--:--:--` for a time no date holds (a peer may send any `ts`). */
export function clockTime(ts: number): string {
  const d = new Date(ts)
  if (Number.isNaN(d.getTime())) return '--:--:--'
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}
