/** Process exit codes shared by every parley frontend; each failure class has its own. */
export const ExitCode = {
  OK: 0,
  /** An unexpected internal error (a bug: please report it). */
  INTERNAL: 1,
  /** A bad flag, address or argument. */
  USAGE: 2,
  /** The listen address could not be bound (in use, no permission, not on this machine). */
  LISTEN: 3,
  /** The run ended with messages no peer took, and nothing keeps them (plain mode holds them in memory only). */
  UNDELIVERED: 4,
  /** The data dir cannot be used: locked by another running node, unwritable, not a directory. */
  DATA_DIR: 5,
  /**
   * The identity key, known_peers or an allow file cannot be used (permissions, malformed); or every peer
   * dialed proved a key other than the one trusted for it, so what was sent waits in the outbox for nothing.
   */
  TRUST: 6,
  /** Input ended with messages not acknowledged yet: they are safe in the outbox and go out on the next run. */
  QUEUED: 7,
  /** Messages were not acknowledged and no node on the DHT announces a key they were for (is it running with --dht?). */
  PEER_NOT_FOUND: 8,
  /** The DHT cannot be joined: no bootstrap node answers (or the public one is refused by the guard). */
  DHT: 9,
  /**
   * Piped input was not read to its end: the outbox stayed full, with no acknowledgement for `--wait`
   * seconds. What was read is safe in the outbox; the rest of stdin was never taken.
   */
  INPUT_LEFT: 10,
  /**
   * Stdout was closed by its reader (`| head`) or could not be written: parley stopped there. What was
   * taken from stdin is safe in the outbox; the line names the first input line not taken.
   */
  OUTPUT_CLOSED: 11,
  /**
   * `--room` on a data dir holding messages from a chat without that room: they would reach its members.
   * Nothing was sent; a data dir of its own for the room, or `--share-history`, goes on.
   */
  ROOM_HISTORY: 12,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure that ends the program with a one-line explanation and a specific exit code. */
export class FatalError extends Error {
  override name = 'FatalError'
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}
