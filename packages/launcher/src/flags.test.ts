import { describe, expect, it } from 'vitest'
import { ExitCode } from './exit-codes.js'
import { parseFlags } from './flags.js'

describe('parseFlags errors', () => {
  it('says how to give a value that starts with a dash, or that a value is missing', () => {
    for (const argv of [
      ['--rate', '-3'],
      ['--name', '--peer', '127.0.0.1:4002'],
    ]) {
      const flag = argv[0]
      expect(() => parseFlags(argv, {})).toThrow(
        expect.objectContaining({
          exitCode: ExitCode.USAGE,
          message: `${flag} needs a value after it; a value that starts with "-" is written ${flag}=-VALUE (see --help)`,
        }),
      )
    }
  })

  it('judges a negative value given with = on its own terms', () => {
    expect(() => parseFlags(['--rate=-3'], {})).toThrow(
      /--rate takes a whole number from 0 to 1000000, got "-3"/,
    )
  })
})
