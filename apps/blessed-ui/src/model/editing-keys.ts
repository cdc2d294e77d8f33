/**
 * The emacs-style keys that edit the input line (move, delete, kill and yank, history). Apart from
 * ChatModel, which keeps only the keys that act on the whole screen: send, scroll, complete, quit, F2.
 */
import type { InputLine } from './input-line.js'

/** Applies an editing key to `input`; false when `name` is not an editing key. */
export function editInput(input: InputLine, name: string): boolean {
  switch (name) {
    case 'M-enter':
      input.insert('\n')
      return true
    case 'C-a':
    case 'home':
      input.home()
      return true
    case 'C-e':
    case 'end':
      input.end()
      return true
    case 'C-b':
    case 'left':
      input.left()
      return true
    case 'C-f':
    case 'right':
      input.right()
      return true
    case 'M-b':
    case 'C-left':
    case 'M-left':
      input.wordBack()
      return true
    case 'M-f':
    case 'C-right':
    case 'M-right':
      input.wordForward()
      return true
    case 'backspace':
      input.backspace()
      return true
    case 'delete':
    case 'C-d':
      input.deleteForward()
      return true
    case 'C-k':
      input.killToEnd()
      return true
    case 'C-u':
      input.killToStart()
      return true
    case 'C-w':
    case 'M-backspace':
      input.killWordBack()
      return true
    case 'M-d':
      input.killWordForward()
      return true
    case 'C-y':
      input.yank()
      return true
    case 'up':
    case 'C-p':
      input.historyUp()
      return true
    case 'down':
    case 'C-n':
      input.historyDown()
      return true
    default:
      return false
  }
}
