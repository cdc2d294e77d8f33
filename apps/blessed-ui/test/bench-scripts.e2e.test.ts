/**
 * The view benchmarks documented in the README still run against the build as it is now: each is run
 * briefly and must print its report. (The flood benchmark runs in `pnpm bench --quick`.)
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, hasTmux } from './harness.js'

const run = promisify(execFile)
const script = (name: string) => fileURLToPath(new URL(`../bench/${name}`, import.meta.url))

beforeAll(() => assertBuilt())

describe('the view benchmarks', () => {
  it('frames.js draws a flood without a terminal and reports each kind of frame', async () => {
    const { stdout } = await run(process.execPath, [script('frames.js')], {
      env: { ...process.env, FRAMES_MESSAGES: '900' },
    })
    expect(stdout).toContain('frames benchmark: 900 messages, 300 between frames')
    expect(stdout).toMatch(/full frame, median +\d+\.\d+ ms \(3 frames\)/)
    expect(stdout).toMatch(/input-row frame, median +\d+\.\d+ ms \(1 frames\)/)
    const written = Number(/bytes written +(\d+)/.exec(stdout)?.[1])
    expect(written).toBeGreaterThan(0)
  })

  it.skipIf(!hasTmux())(
    'stalled-terminal.js stalls the terminal through a flood and sees the last message after',
    async () => {
      const { stdout } = await run(process.execPath, [script('stalled-terminal.js')], {
        env: { ...process.env, STALL_MESSAGES: '3000', STALL_SECONDS: '2' },
      })
      expect(stdout).toContain('3000 messages while the terminal reads nothing for 2 s')
      expect(stdout).toMatch(/each second while stalled +\d+ \d+ MB/)
      expect(stdout).toMatch(/last message on screen after the terminal resumed +\d+ ms/)
    },
  )
})
