/**
 * What the terminal sent, decoded: typed text, a named key (emacs-style names such as `C-a`, `M-b`, `up`),
 * a bracketed paste, a focus change or a mouse wheel step.
 */
export type KeyEvent =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'key'; readonly name: string }
  | { readonly type: 'paste'; readonly text: string }
  | { readonly type: 'focus'; readonly focused: boolean }
  | { readonly type: 'wheel'; readonly direction: 'up' | 'down' }

const PASTE_END = '\x1b[201~'

const CSI_KEYS: Record<string, string> = {
  A: 'up',
  B: 'down',
  C: 'right',
  D: 'left',
  H: 'home',
  F: 'end',
  Z: 'S-tab',
  '1~': 'home',
  '7~': 'home',
  '4~': 'end',
  '8~': 'end',
  '3~': 'delete',
  '5~': 'pageup',
  '6~': 'pagedown',
  Q: 'f2',
}

const SS3_KEYS: Record<string, string> = {
  A: 'up',
  B: 'down',
  C: 'right',
  D: 'left',
  H: 'home',
  F: 'end',
  Q: 'f2',
}

/** xterm modifier parameter (1 + bits: shift 1, alt 2, ctrl 4) as a name prefix. */
function modifierPrefix(param: number): string {
  const bits = param - 1
  return (bits & 4 ? 'C-' : '') + (bits & 2 ? 'M-' : '') + (bits & 1 ? 'S-' : '')
}

/**
 * Decodes terminal input fed in arbitrary chunks: an escape sequence or a paste split across reads is held
 * until it is complete. A lone ESC at the end of a chunk waits for `flush()` (the runtime calls it shortly after).
 */
export class KeyDecoder {
  private pending = ''
  private pasting: string | undefined

  get hasPending(): boolean {
    return this.pending !== ''
  }

  push(chunk: string): KeyEvent[] {
    const out: KeyEvent[] = []
    let input = this.pending + chunk
    this.pending = ''
    while (input !== '') {
      if (this.pasting !== undefined) {
        const end = input.indexOf(PASTE_END)
        if (end < 0) {
          const keep = partialSuffix(input, PASTE_END)
          this.pasting += input.slice(0, input.length - keep)
          this.pending = input.slice(input.length - keep)
          return out
        }
        out.push({ type: 'paste', text: this.pasting + input.slice(0, end) })
        this.pasting = undefined
        input = input.slice(end + PASTE_END.length)
        continue
      }
      const used = this.one(input, out)
      if (used === 0) {
        this.pending = input
        return out
      }
      input = input.slice(used)
    }
    return out
  }

  /** Gives up waiting for the rest of a sequence: a lone ESC is the Escape key. */
  flush(): KeyEvent[] {
    if (this.pasting !== undefined) return []
    const rest = this.pending
    this.pending = ''
    if (rest === '') return []
    if (rest === '\x1b') return [{ type: 'key', name: 'escape' }]
    return this.push(rest.replace(/^\x1b/, ''))
  }

  /** Decodes one event at the start of `input`; returns how many units it used, or 0 when it needs more. */
  private one(input: string, out: KeyEvent[]): number {
    const c = input.charCodeAt(0)
    if (c === 0x1b) return this.escape(input, out)
    if (c === 0x0d) {
      out.push({ type: 'key', name: 'enter' })
      return input[1] === '\n' ? 2 : 1
    }
    if (c === 0x0a) return key(out, 'enter', 1)
    if (c === 0x09) return key(out, 'tab', 1)
    if (c === 0x7f || c === 0x08) return key(out, 'backspace', 1)
    if (c === 0) return key(out, 'C-space', 1)
    if (c < 0x1b) return key(out, `C-${String.fromCharCode(c + 0x60)}`, 1)
    if (c < 0x20) return 1
    let end = 1
    while (end < input.length) {
      const code = input.charCodeAt(end)
      if (code < 0x20 || code === 0x7f) break
      end++
    }
    const text = input.slice(0, end).replace(/[\u0080-\u009f]/g, '')
    if (text !== '') out.push({ type: 'text', text })
    return end
  }

  private escape(input: string, out: KeyEvent[]): number {
    if (input.length < 2) return 0
    const next = input[1]!
    if (next === '[') return this.csi(input, out)
    if (next === 'O') {
      if (input.length < 3) return 0
      const name = SS3_KEYS[input[2]!]
      if (name) out.push({ type: 'key', name })
      return 3
    }
    if (next === '\x7f' || next === '\b') return key(out, 'M-backspace', 2)
    if (next === '\x1b') return key(out, 'escape', 1)
    if (next === '\r') return key(out, 'M-enter', 2)
    const code = next.charCodeAt(0)
    if (code >= 0x20 && code < 0x7f) return key(out, `M-${next}`, 2)
    return key(out, 'escape', 1)
  }

  private csi(input: string, out: KeyEvent[]): number {
    const match = /^\x1b\[([<?]?)([0-9;]*)([\x20-\x2f]*)([\x40-\x7e])/.exec(input)
    if (!match) {
      // Still inside the parameters: wait for the final byte, unless this is clearly not a sequence.
      return /^\x1b\[[<?]?[0-9;]*[\x20-\x2f]*$/.test(input) ? 0 : key(out, 'M-[', 2)
    }
    const [all, lead, params, , final] = match as unknown as [string, string, string, string, string]
    if (lead === '<') {
      const [button] = params.split(';').map(Number)
      if (final === 'M' && button === 64) out.push({ type: 'wheel', direction: 'up' })
      if (final === 'M' && button === 65) out.push({ type: 'wheel', direction: 'down' })
      return all.length
    }
    if (params === '200' && final === '~') {
      this.pasting = ''
      return all.length
    }
    if (final === 'I' && params === '') {
      out.push({ type: 'focus', focused: true })
      return all.length
    }
    if (final === 'O' && params === '') {
      out.push({ type: 'focus', focused: false })
      return all.length
    }
    const parts = params.split(';')
    if (final === '~') {
      const name = CSI_KEYS[`${parts[0]}~`]
      if (name) out.push({ type: 'key', name: modifierPrefix(Number(parts[1] ?? 1)) + name })
      return all.length
    }
    const name = CSI_KEYS[final]
    if (name)
      out.push({ type: 'key', name: parts.length > 1 ? modifierPrefix(Number(parts[1])) + name : name })
    return all.length
  }
}

function key(out: KeyEvent[], name: string, used: number): number {
  out.push({ type: 'key', name })
  return used
}

/** How many characters at the end of `text` could be the start of `marker`. */
function partialSuffix(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (marker.startsWith(text.slice(text.length - n))) return n
  }
  return 0
}
