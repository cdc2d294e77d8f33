import type { Row, Style } from '../model/rows.js'

/** SGR colours for sender names: cyan, magenta, green, yellow, blue, red, then their bright forms. */
const NICK_SGR = [36, 35, 32, 33, 34, 31, 96, 95, 92, 93, 94, 91]

/** The SGR sequence that starts a span of `style` (blessed parses SGR in content). */
export function sgr(style: Style): string {
  switch (style.kind) {
    case 'text':
    case 'time':
      // Grey would be the natural choice, but on 8-colour terminals (TERM=screen) blessed turns it into black.
      return ''
    case 'nick':
    case 'action':
      return `\x1b[${NICK_SGR[style.colour % NICK_SGR.length]}m`
    case 'own':
      return '\x1b[1m'
    case 'mention':
      return '\x1b[1;33m'
    case 'info':
      return '\x1b[36m'
    case 'warn':
      return '\x1b[1;31m'
    case 'hint':
      return '\x1b[33m'
    case 'marker':
      return '\x1b[31m'
    case 'status':
      switch (style.tone) {
        case 'ok':
          return '\x1b[1;30;42m'
        case 'busy':
          return '\x1b[1;30;43m'
        case 'idle':
          return '\x1b[1;30;46m'
        case 'bad':
          return '\x1b[1;37;41m'
        default:
          return ''
      }
    case 'status-text':
      return '\x1b[37;44m'
    default: {
      const _exhaustive: never = style
      return _exhaustive
    }
  }
}

/** A row as blessed content: each span's text (already made blessed-safe by `encode`) in its colours. */
export function rowContent(row: Row, encode: (text: string) => string): string {
  let out = ''
  for (const span of row) {
    const start = sgr(span.style)
    out += start === '' ? encode(span.text) : `${start}${encode(span.text)}\x1b[m`
  }
  return out
}
