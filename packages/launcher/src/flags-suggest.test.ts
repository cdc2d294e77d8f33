import { describe, expect, it } from 'vitest'
import { ExitCode } from './exit-codes.js'
import { closestOption, parseFlags } from './flags.js'

describe('an unknown option', () => {
  it('is answered with the closest known one', () => {
    expect(() => parseFlags(['--lissen', '127.0.0.1:4001'], {})).toThrow(
      expect.objectContaining({
        exitCode: ExitCode.USAGE,
        message: 'unknown option --lissen; did you mean --listen? (see --help)',
      }),
    )
    expect(closestOption('--peers')).toBe('--peer')
    expect(closestOption('--data')).toBe('--data-dir')
    expect(closestOption('--recvonly')).toBe('--recv-only')
  })

  it('counts two letters swapped as one slip', () => {
    expect(closestOption('--plian')).toBe('--plain')
    expect(closestOption('--lsiten')).toBe('--listen')
    expect(closestOption('--nmae')).toBe('--name')
    expect(() => parseFlags(['--plian'], {})).toThrow(
      'unknown option --plian; did you mean --plain? (see --help)',
    )
  })

  it('gets no suggestion when nothing is close', () => {
    expect(closestOption('--frobnicate')).toBeUndefined()
    expect(() => parseFlags(['--frobnicate'], {})).toThrow('unknown option --frobnicate (see --help)')
  })
})

describe('receiving only', () => {
  it('is a flag of its own, off by default', () => {
    expect(parseFlags([], {}).recvOnly).toBe(false)
    expect(parseFlags(['--recv-only'], {}).recvOnly).toBe(true)
  })
})
