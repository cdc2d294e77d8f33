/**
 * Tab and S-Tab in the input line: the first press asks the launcher's `completions` for candidates, the
 * next ones cycle through them in place. Any other key ends the cycle (`reset`).
 */
import { completions } from '@parley/launcher'
import type { InputLine } from './input-line.js'

export class TabCompletion {
  private cycle: { head: string; rest: string; candidates: readonly string[]; index: number } | undefined

  reset(): void {
    this.cycle = undefined
  }

  /** Completes the word before the cursor from commands and `names`, or moves to the next (previous) candidate. */
  step(input: InputLine, names: readonly string[], step: 1 | -1): void {
    if (this.cycle) {
      const c = this.cycle
      c.index = (c.index + step + c.candidates.length) % c.candidates.length
      const pick = c.candidates[c.index]!
      input.set(c.head + pick + c.rest, c.head.length + pick.length)
      return
    }
    const line = input.text
    const found = completions(line, input.cursor, names)
    if (!found) return
    const head = line.slice(0, found.from)
    const rest = line.slice(found.to)
    const index = step === 1 ? 0 : found.candidates.length - 1
    const pick = found.candidates[index]!
    input.set(head + pick + rest, head.length + pick.length)
    this.cycle = { head, rest, candidates: found.candidates, index }
  }
}
