import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ExitCode, FatalError } from './exit-codes.js'
import { reportFailure } from './program.js'

function stderr() {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk))
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}

describe('reportFailure', () => {
  it('shows the control bytes a message quotes (a line of a binary file) instead of sending them to the terminal', () => {
    const err = stderr()
    const quoted = 'allow file /tmp/keys:1: "a\u001b[2J\u0013b" is not a key'
    expect(reportFailure('parley', new FatalError(ExitCode.TRUST, quoted), err.stream)).toBe(ExitCode.TRUST)
    expect(err.text()).toBe('parley: allow file /tmp/keys:1: "a^[[2J^Sb" is not a key\n')
  })

  it('calls anything else an internal error, one line, and cleaned the same way', () => {
    const err = stderr()
    expect(reportFailure('parley', new Error('boom\u0007'), err.stream, {})).toBe(ExitCode.INTERNAL)
    expect(err.text()).toBe('parley: internal error: boom^G (please report this)\n')
  })

  it("keeps an internal error's first line only: the rest is for PARLEY_DEBUG", () => {
    const missing = new Error(
      "Cannot find module 'sodium-native'\nRequire stack:\n- /opt/parley/dist/parley.cjs",
    )
    const err = stderr()
    expect(reportFailure('parley', missing, err.stream, {})).toBe(ExitCode.INTERNAL)
    expect(err.text()).toBe(
      "parley: internal error: Cannot find module 'sodium-native' (please report this)\n",
    )
    const debug = stderr()
    reportFailure('parley', missing, debug.stream, { PARLEY_DEBUG: '1' })
    expect(debug.text()).toContain('Require stack:')
  })
})
