import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readAllowFile } from './allow-file.js'
import { fileTrouble } from './errors.js'
import { fingerprint } from './fingerprint.js'

const A = 'aa'.repeat(32)
const B = 'bb'.repeat(32)

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-allow-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('allow files', () => {
  it('reads hex keys and full fingerprints, with labels and comments', async () => {
    const file = join(dir, 'allow')
    await writeFile(file, `# friends\n${A} alice\n\n  ${fingerprint(B).full}   # bob\n`)
    expect(await readAllowFile(file)).toEqual(new Set([A, B]))
  })

  it('says in words that the allow file is a directory, and to give a file', async () => {
    const file = join(dir, 'allow')
    await mkdir(file)
    await expect(readAllowFile(file)).rejects.toThrow(
      `allow file ${file} is a directory; give --allow-file a file of keys, one per line`,
    )
  })

  it('reads a file saved as UTF-16 with its byte order mark, either byte order', async () => {
    const file = join(dir, 'allow')
    const text = `\ufeff# friends\r\n${A} alice\r\n${fingerprint(B).full}\r\n`
    await writeFile(file, Buffer.from(text, 'utf16le'))
    expect(await readAllowFile(file)).toEqual(new Set([A, B]))
    await writeFile(file, Buffer.from(text, 'utf16le').swap16())
    expect(await readAllowFile(file)).toEqual(new Set([A, B]))
  })

  it('says to save as UTF-8 a file with NUL bytes and no byte order mark', async () => {
    const file = join(dir, 'allow')
    await writeFile(file, Buffer.from(`${A}\n`, 'utf16le'))
    await expect(readAllowFile(file)).rejects.toThrow(
      `${file} is not text parley can read (it holds NUL bytes: UTF-16 without a byte order mark?); save it as UTF-8`,
    )
  })

  it('words other file errors as Node does, without the path the line already names', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    expect(fileTrouble(full)).toBe('no space left on device (ENOSPC)')
    expect(fileTrouble(Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES' }))).toBe(
      'permission denied (EACCES); fix the permissions of it or its directory',
    )
    expect(fileTrouble(new Error('something else'))).toBe('something else')
  })

  it('names the file and line of an entry that is not a key', async () => {
    const file = join(dir, 'allow')
    await writeFile(file, `${A}\n${fingerprint(B).short} bob\n`)
    await expect(readAllowFile(file)).rejects.toThrow(new RegExp(`${file}:2: .*short fingerprint`))
    await writeFile(file, `# x\n\nnot-a-key\n`)
    await expect(readAllowFile(file)).rejects.toMatchObject({ code: 'BAD_LINE', line: 3 })
  })

  it('says when the file does not exist', async () => {
    await expect(readAllowFile(join(dir, 'missing'))).rejects.toThrow(/does not exist/)
  })
})
