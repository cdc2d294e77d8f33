export type DataDirErrorCode =
  | 'LOCKED'
  | 'UNWRITABLE'
  | 'NOT_A_DIRECTORY'
  /** The directory belongs to another user. */
  | 'NOT_OWNED'
  /** Other users can write the directory (or swap a directory above it). */
  | 'UNSAFE_PERMISSIONS'
  /** The disk holding the directory is full (`ENOSPC`), or the user's quota on it is used up (`EDQUOT`). */
  | 'NO_SPACE'

/** The data directory cannot be used; the message is one line that says what to do. */
export class DataDirError extends Error {
  override name = 'DataDirError'
  constructor(
    readonly code: DataDirErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export type LogErrorCode =
  /** The file exists but is not an append log (its first bytes are not the log header). */
  | 'NOT_A_LOG'
  /** The file is a log written in a format version this code does not read. */
  | 'VERSION'
  /** One append (or one record of a rewrite) encodes to more than `maxRecordBytes`. */
  | 'TOO_LARGE'
  /** A record cannot be encoded as JSON (a BigInt, a cycle). */
  | 'NOT_JSON'
  /** Reading, writing or syncing the file failed; after a failed append the log refuses further appends. */
  | 'IO'
  /** The log was closed. */
  | 'CLOSED'

export class LogError extends Error {
  override name = 'LogError'
  constructor(
    readonly code: LogErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

/** A write refused by the disk itself rather than by the file: full, over quota, read-only, or failing. */
export type DiskTrouble = 'ENOSPC' | 'EDQUOT' | 'EROFS' | 'EIO'

const DISK_TROUBLES: ReadonlySet<string> = new Set<DiskTrouble>(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO'])

/**
 * The system error code (`ENOSPC`, `EACCES`…) behind `error`: its own, or that of the error it was made
 * from (`cause`), as a `LogError` carries the failure of the write it reports.
 * @example systemCode(new LogError('IO', 'cannot append', { cause: enospc })) // 'ENOSPC'
 */
export function systemCode(error: unknown): string | undefined {
  for (let at = error, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
    const code = errorCode(at)
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code
  }
  return undefined
}

/** The disk trouble behind `error` (see `systemCode`), or undefined when the failure is something else. */
export function diskTrouble(error: unknown): DiskTrouble | undefined {
  const code = systemCode(error)
  return code !== undefined && DISK_TROUBLES.has(code) ? (code as DiskTrouble) : undefined
}
