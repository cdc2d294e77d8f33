import type { Interface } from 'node:readline'

/** What readline keeps of its last drawing: the row of the line the cursor was left on. */
type Drawn = { prevRows?: number }

/**
 * Readline draws its line again when the terminal is resized, from the row it last left the cursor on,
 * counted at the old width. A terminal that reflows its text (tmux, VTE, kitty, iTerm2) has moved that row
 * meanwhile: wider, a line that wrapped takes fewer rows, and the count reached above it, erasing the
 * messages shown there. The count is taken as the fewer of the rows at the old width and at the new, so
 * the redraw never starts above the line; where the terminal does not reflow (xterm), a wider window may
 * leave the first rows of the half-typed line above its new drawing, which loses nothing.
 */
export function redrawInPlaceOnResize(
  rl: Interface,
  output: { prependListener(event: 'resize', listener: () => void): unknown },
): void {
  output.prependListener('resize', () => {
    const drawn = rl as unknown as Drawn
    drawn.prevRows = Math.min(drawn.prevRows ?? 0, rl.getCursorPos().rows)
  })
}
