/**
 * A write to the data dir that failed while the node ran: a full disk, a used-up quota, a file system
 * turned read-only, a failing disk. The node stops on it with one line (exit DATA_DIR): nothing received
 * and not journaled was acknowledged, so the peers that sent it keep it and send it again.
 */
import { systemCode } from '@parley/store'
import { ExitCode, FatalError } from './exit-codes.js'

const SAFE = 'nothing parley acknowledged is lost (peers send again what it could not save)'

/**
 * The one line a failed write to the data dir `dir` ends parley with: what happened, what is safe, what
 * to do. A FatalError (already worded) is returned as it is.
 * @example dataDirFailure('/home/a/.local/share/parley', enospc).message // "the disk holding the data dir … is full (ENOSPC): …"
 */
export function dataDirFailure(dir: string, error: unknown): FatalError {
  if (error instanceof FatalError) return error
  const code = systemCode(error)
  return new FatalError(ExitCode.DATA_DIR, failureText(dir, code, error), { cause: error })
}

function failureText(dir: string, code: string | undefined, error: unknown): string {
  switch (code) {
    case 'ENOSPC':
      return `the disk holding the data dir ${dir} is full (ENOSPC): ${SAFE}; free space on that disk, then run parley again`
    case 'EDQUOT':
      return `your disk quota is used up on the disk holding the data dir ${dir} (EDQUOT): ${SAFE}; free space in your quota (or have it raised), then run parley again`
    case 'EROFS':
      return `the data dir ${dir} is on a file system that became read-only (EROFS): ${SAFE}; once it is writable again (one turns read-only after disk errors: check the disk), run parley again`
    case 'EIO':
      return `the disk holding the data dir ${dir} failed a write (EIO): ${SAFE}; check that disk, then run parley again`
    default: {
      const why = code ?? (error instanceof Error ? error.message : String(error))
      return `cannot write the data dir ${dir} (${why}): ${SAFE}; fix what stops the write, then run parley again`
    }
  }
}

/**
 * What a failed append to the journal is reported as (the `journal-error` status line): the file and the
 * system's code, without the store's advice to its own callers.
 */
export function journalWriteText(path: string, error: unknown): string {
  const code = systemCode(error) ?? (error instanceof Error ? error.message : String(error))
  return `cannot append to ${path} (${code})`
}
