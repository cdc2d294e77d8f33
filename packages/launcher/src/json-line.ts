/**
 * Left raw by `JSON.stringify`, yet taken for a line break by some line readers (U+0085, U+2028, U+2029:
 * Python's `splitlines`), obeyed by a terminal showing the line (DEL, C1 controls, bidi controls), drawn
 * as nothing (format and default-ignorable characters), or read by a shell (`$`, backquote).
 */
const JSON_UNSAFE = /[\u007f-\u009f$`\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu

function unicodeEscape(c: string): string {
  let out = ''
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`
  return out
}

/**
 * One JSON line that nothing a peer sends can break, turn around or hide in: `value` as JSON, with those
 * characters escaped too, so a peer's text can neither split the line for a reader nor reorder, hide in
 * or drive the terminal that shows it, and a name like `$(touch /tmp/x)` stays inert even inside a
 * shell's double quotes. It parses the same. Both `--json` output and `parley.log` are written with it.
 * @example jsonLine({ body: 'a\u2028b' }) // '{"body":"a\\u2028b"}'
 */
export function jsonLine(value: Record<string, unknown>): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, unicodeEscape)
}
