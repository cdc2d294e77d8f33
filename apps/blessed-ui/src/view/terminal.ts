/** Modes parley-tui turns on: bracketed paste, focus reports (for the read marker), SGR mouse wheel. */
export const ENTER_MODES = '\x1b[?2004h\x1b[?1004h\x1b[?1000h\x1b[?1006h'
/** Everything the TUI may have changed, undone: modes off, auto-wrap on, cursor shown, normal screen. */
export const RESTORE_MODES = '\x1b[?2004l\x1b[?1004l\x1b[?1006l\x1b[?1000l\x1b[?7h\x1b[?25h\x1b[m'

const restorers = new Set<() => void>()

/** Registers a way to give the terminal back; every exit path (quit, fatal error, crash, signal) runs it. */
export function onRestore(restore: () => void): () => void {
  restorers.add(restore)
  return () => restorers.delete(restore)
}

/** Gives the terminal back now. Safe to call more than once and from an 'exit' handler (all synchronous). */
export function restoreTerminal(): void {
  for (const restore of [...restorers]) {
    restorers.delete(restore)
    try {
      restore()
    } catch {
      // Restoring is best effort: the next restorer must still run.
    }
  }
}
