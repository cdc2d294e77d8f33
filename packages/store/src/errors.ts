export type DataDirErrorCode =
  | 'LOCKED'
  | 'UNWRITABLE'
  | 'NOT_A_DIRECTORY'
  /** The directory belongs to another user. */
  | 'NOT_OWNED'
  /** Other users can write the directory (or swap a directory above it). */
  | 'UNSAFE_PERMISSIONS'

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
