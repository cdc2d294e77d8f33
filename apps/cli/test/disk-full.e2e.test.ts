/**
 * A data dir on a disk that fills up, through the real binary: a 2 MiB tmpfs mounted for the test (root
 * only), filled by a peer's piped file. The receiver stops with one line and exit code 5, refuses to start
 * while the disk stays full, and once space is freed shows what it had not shown yet: no message twice,
 * save the one write whose display mark the full disk refused.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start, defer } = useBuiltParley()

const DATA_DIR_EXIT = 5
/** A write of shown lines holds at most this many bytes (a longer line goes alone). */
const LINE_CHUNK_BYTES = 4_000

/**
 * A tmpfs of `size` mounted on a fresh folder, unmounted once the test's processes are gone (passed or
 * failed); or why this machine cannot have one.
 */
function smallDisk(size: string): { path: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'mounting a small tmpfs needs root; run the test as root' }
  const path = tempDir('parley-small-disk-')
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', path], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  if (mounted.status !== 0)
    return { skip: `cannot mount a tmpfs here: ${(mounted.stderr || mounted.error?.message || '').trim()}` }
  defer(() => {
    if (spawnSync('umount', [path], { timeout: 30_000 }).status !== 0)
      spawnSync('umount', ['-l', path], { timeout: 30_000 })
  })
  return { path }
}

/** Writes to `file` until the disk refuses: nothing is left on it for anyone. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(4096)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    closeSync(fd)
  }
}

/** `count` lines of 1,000 random letters, each starting with its number. */
function randomLines(count: number): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
  return Array.from({ length: count }, (_, i) => {
    const bytes = randomBytes(1_000)
    let text = ''
    for (const byte of bytes) text += letters[byte % letters.length]
    return `${i} ${text}`
  })
}

/** The number a shown line of the filler's starts with (`<filler> 12 abc…`). */
const numberOf = (line: string) => Number(/^<filler> (\d+) /.exec(line)?.[1])

describe('a data dir on a disk that fills up', () => {
  it('stops with one line and exit 5, refuses to start while the disk is full, and shows nothing twice once space is freed', async (ctx) => {
    const disk = smallDisk('2m')
    if ('skip' in disk) return ctx.skip(disk.skip)
    const dataDir = join(disk.path, 'd')
    mkdirSync(dataDir, { mode: 0o700 })
    // Room the test frees later, as a user would: what the receiver's stop leaves free may be too little.
    const spare = join(disk.path, 'spare')
    writeFileSync(spare, Buffer.alloc(256 * 1024))
    const receiver = ['--recv-only', '--listen', '127.0.0.1:0', '--name', 'full', '--data-dir', dataDir]

    const full = start(receiver)
    // Its output is read to the end before it is checked: the exit can come before the last lines.
    const fullClosed = once(full.child, 'close')
    const port = await listeningPort(full)
    const filler = start([
      '--peer',
      `127.0.0.1:${port}`,
      '--listen',
      '127.0.0.1:0',
      '--name',
      'filler',
      '--data-dir',
      tempDir(),
    ])
    filler.child.stdin.end(`${randomLines(3_000).join('\n')}\n`)

    expect(await full.exited).toBe(DATA_DIR_EXIT)
    await fullClosed
    const fullLine = `parley: the disk holding the data dir ${dataDir} is full (ENOSPC): nothing parley acknowledged is lost (peers send again what it could not save); free space on that disk, then run parley again`
    expect(full.stderr.at(-1)).toBe(fullLine)
    expect(full.stderr.filter((line) => line.includes('is full'))).toHaveLength(1)
    expect(full.stderr.join('\n')).not.toMatch(/internal error|please report/)
    // The journal's own failure, when it was the write that failed, is said once.
    const told = full.stderr.filter((line) => line.startsWith('parley: cannot write the data dir'))
    expect(told.length).toBeLessThanOrEqual(1)
    for (const line of told)
      expect(line).toBe(
        `parley: cannot write the data dir: cannot append to ${join(dataDir, 'journal.log')} (ENOSPC)`,
      )
    const firstRun = [...full.stdout]
    expect(firstRun.length).toBeGreaterThan(0)
    filler.kill('SIGTERM')
    await filler.exited

    // Whatever the stop left free is taken: a start now finds the disk full, and shows nothing.
    const ballast = join(disk.path, 'ballast')
    fillUp(ballast)
    const again = start(receiver)
    const againClosed = once(again.child, 'close')
    expect(await again.exited).toBe(DATA_DIR_EXIT)
    await againClosed
    expect(again.stderr).toEqual([
      `parley: data dir ${dataDir} is not writable (ENOSPC); the disk holding it is full; free space on that disk, then run parley again`,
    ])
    expect(again.stdout).toEqual([])

    // Space is freed: what was journaled and not shown is shown now, before a new message.
    rmSync(ballast)
    rmSync(spare)
    const freed = start(receiver)
    const freedPort = await listeningPort(freed)
    const probe = start([
      '--peer',
      `127.0.0.1:${freedPort}`,
      '--listen',
      '127.0.0.1:0',
      '--name',
      'probe',
      '--data-dir',
      tempDir(),
    ])
    probe.child.stdin.end('the last line\n')
    await freed.waitFor('stdout', /^<probe> the last line$/)
    expect(await probe.exited).toBe(0)
    const secondRun = freed.stdout.filter((line) => line.startsWith('<filler> '))

    // Shown twice: at most the one write whose display mark the full disk refused, the last of the first run.
    const twice = secondRun.filter((line) => firstRun.includes(line))
    expect(twice).toEqual(firstRun.slice(firstRun.length - twice.length))
    if (twice.length > 1)
      expect(Buffer.byteLength(`${twice.join('\n')}\n`)).toBeLessThanOrEqual(LINE_CHUNK_BYTES)
    // And nothing skipped: the runs together show the filler's lines from the first on, in order.
    const shown = [...firstRun, ...secondRun.slice(twice.length)].map(numberOf)
    expect(shown).toEqual(shown.map((_, i) => i))
  })
})
