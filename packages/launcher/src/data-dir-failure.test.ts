import { LogError } from '@parley/store'
import { describe, expect, it } from 'vitest'
import { dataDirFailure, journalWriteText } from './data-dir-failure.js'
import { ExitCode, FatalError } from './exit-codes.js'

const DIR = '/home/ann/.local/share/parley'
const refused = (code: string) =>
  new LogError('IO', `cannot append to ${DIR}/journal.log (${code}); reopen the log to continue`, {
    cause: Object.assign(new Error(`${code}: the disk refused the write, write`), { code }),
  })

describe('a write the data dir refused, as the line parley stops with', () => {
  it('says, for each way a disk refuses, what happened to which dir, what is safe and what to do', () => {
    const lines = ['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EFBIG'].map((code) => {
      const failure = dataDirFailure(DIR, refused(code))
      expect(failure).toBeInstanceOf(FatalError)
      expect(failure.exitCode).toBe(ExitCode.DATA_DIR)
      expect(failure.message).not.toContain('\n')
      expect(failure.message).not.toContain('reopen')
      expect(failure.message).toContain(`data dir ${DIR}`)
      expect(failure.message).toContain(`(${code})`)
      expect(failure.message).toContain('nothing parley acknowledged is lost')
      expect(failure.message).toMatch(/run parley again$/)
      return failure.message
    })
    expect(lines[0]).toMatch(
      /^the disk holding the data dir .* is full \(ENOSPC\): .*; free space on that disk,/,
    )
    expect(lines[1]).toMatch(/^your disk quota is used up .*\(EDQUOT\): .*; free space in your quota/)
    expect(lines[2]).toMatch(/is on a file system that became read-only \(EROFS\): .*check the disk/)
    expect(lines[3]).toMatch(/failed a write \(EIO\): .*; check that disk,/)
    expect(lines[4]).toMatch(/^cannot write the data dir .* \(EFBIG\): /)
  })

  it('keeps a failure that is already worded as it is', () => {
    const worded = new FatalError(ExitCode.DATA_DIR, 'already said')
    expect(dataDirFailure(DIR, worded)).toBe(worded)
  })

  it("tells the journal's failure by file and code, without the store's advice to its callers", () => {
    expect(journalWriteText(`${DIR}/journal.log`, refused('ENOSPC'))).toBe(
      `cannot append to ${DIR}/journal.log (ENOSPC)`,
    )
  })
})
