/**
 * Makes text from the network safe to print on a terminal: control characters and escape sequences
 * become visible (`^[`), so a peer cannot move the cursor, recolour or retitle the screen.
 * Newlines and tabs are kept.
 */
export function terminalSafe(text: string): string {
  // C0 controls except \t and \n, DEL, and C1 controls.
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0)
    if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`
    return `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** `HH:MM:SS` in local time. */
export function clockTime(ts: number): string {
  const d = new Date(ts)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}
