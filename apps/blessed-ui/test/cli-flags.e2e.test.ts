import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, TUI_BIN } from './harness.js'

const run = (args: string[]) =>
  spawnSync(process.execPath, [TUI_BIN, ...args], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 30_000,
  })

describe('parley-tui outside a terminal', () => {
  beforeAll(() => assertBuilt())

  it('prints the shared flag reference with --help', () => {
    const result = run(['--help'])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^parley-tui: /)
    expect(result.stdout).toContain('--listen HOST:PORT')
    // Only what parley-tui takes: the line-mode commands and --json are refused here (exit 2), so the
    // reference names them only to send the user to parley; the screen's own commands are listed.
    expect(result.stdout).not.toMatch(/^\s*parley-tui (id|invite|room|bootstrap|relay)\b/m)
    expect(result.stdout).not.toContain('--json')
    expect(result.stdout).not.toContain('--recv-only')
    expect(result.stdout).toContain('run parley --help')
    expect(result.stdout).toMatch(/^ {2}\/members +show or hide the member panel/m)
    expect(result.stdout).toMatch(/^ {2}\/clear +/m)
    for (const refused of [['room'], ['id'], ['--json']]) expect(run(refused).status).toBe(2)
  })

  it('prints its version with --version and -V, as the full program does with --version among other flags', () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    for (const args of [['--version'], ['-V'], ['--version', '--name', 'x']]) {
      const result = run(args)
      expect(result.status).toBe(0)
      expect(result.stdout).toBe(`parley-tui ${version}\n`)
    }
  })

  it('rejects a bad flag with exit code 2 and one line', () => {
    const result = run(['--listen', 'nowhere'])
    expect(result.status).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/^parley-tui: --listen: bad address/)
  })

  it('says to use parley when stdin or stdout is not a terminal', () => {
    const result = run(['--listen', '127.0.0.1:0'])
    expect(result.status).toBe(2)
    // One line, its program named once.
    expect(result.stderr).toBe(
      'parley-tui: needs a terminal on stdin and stdout; for pipes and scripts use parley (line mode)\n',
    )
  })
})
