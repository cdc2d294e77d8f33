/** Why the node's own key pair cannot be used. */
export class IdentityError extends Error {
  override name = 'IdentityError'
  constructor(
    readonly code: 'KEY_PERMISSIONS' | 'KEY_CORRUPT' | 'KEY_IO' | 'KEY_MISSING',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** Text that should name a public key (hex or fingerprint) but does not. */
export class KeyFormatError extends Error {
  override name = 'KeyFormatError'
  constructor(
    readonly code: 'BAD_KEY' | 'SHORT_FINGERPRINT' | 'BAD_CHECKSUM',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** An invite code that cannot be decoded (or an invite that cannot be made). */
export class InviteError extends Error {
  override name = 'InviteError'
  readonly code = 'BAD_INVITE'
}

/** A malformed line in known_peers or an allow file; the message starts with `FILE:LINE:`. */
export class TrustFileError extends Error {
  override name = 'TrustFileError'
  constructor(
    readonly code: 'BAD_LINE' | 'READ_FAILED',
    message: string,
    readonly file: string,
    readonly line?: number,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** What is wrong with a file a read or write of it failed on, in words, with what to do where there is one. */
export function fileTrouble(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case 'EISDIR':
      return 'it is a directory, not a file; move it away'
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code}); fix the permissions of it or its directory`
    case 'ENOTDIR':
      return `a part of its path is a file, not a directory (${code})`
    default: {
      // Node's own words without the path, which the caller names: "no space left on device (ENOSPC)".
      const message = (err as Error | undefined)?.message ?? String(err)
      const words = /^(\w+): ([^,]+)/.exec(message)
      return words ? `${words[2]} (${words[1]})` : message
    }
  }
}
