/**
 * Opening the files parley writes without ever following a symbolic link: a link planted where parley
 * expects its log or journal would make it append to, or overwrite, whatever the link points at.
 */
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { errorCode } from './errors.js'

// Windows has no O_NOFOLLOW; its links need privileges to create, so there is nothing to plant.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0

/**
 * On Linux a write to a file opened with O_DSYNC returns once its data, and the size that finds it, are
 * on the disk: "as though each write(2) was followed by a call to fdatasync(2)" (open(2)). The append
 * log then needs one call to the disk per flush, not two. Elsewhere it calls `fdatasync` after each
 * write: macOS's O_DSYNC does not flush the drive's cache, which its `fdatasync` does (F_FULLFSYNC).
 */
export const SYNC_ON_WRITE: number = process.platform === 'linux' ? (constants.O_DSYNC ?? 0) : 0

/** open(2) flags for the files parley writes: the last path component is never followed if it is a link. */
export const OpenFlags = {
  /** Read and write an existing file. */
  readWrite: constants.O_RDWR | NOFOLLOW,
  /** Read and write an existing file whose writes are durable when they return, where the system can. */
  readWriteSynced: constants.O_RDWR | NOFOLLOW | SYNC_ON_WRITE,
  /** Create a file to read and write as `readWriteSynced`; fails if anything is there already. */
  createSynced: constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | NOFOLLOW | SYNC_ON_WRITE,
  /** Append, creating the file if it is missing. */
  append: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW,
  /** Create a new file; fails if anything (a link included) is there already. */
  createNew: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW,
} as const

/** True when an open failed because the path is a symbolic link (Linux says ELOOP, the BSDs EMLINK). */
export function isLinkRefusal(error: unknown): boolean {
  const code = errorCode(error)
  return code === 'ELOOP' || code === 'EMLINK'
}

/** What to tell a person when `path` is a link: one line, with the fix. */
export function linkAdvice(path: string): string {
  return `${path} is a symbolic link, and parley never writes through one (it could point at any file of yours); remove the link`
}

/** Opens `path` for appending (created with `mode` if missing), never through a link. Returns the fd. */
export function openForAppend(path: string, mode = 0o600): number {
  return openSync(path, OpenFlags.append, mode)
}

/** Creates `path` holding `data`; fails if anything (a link included) is there already. */
export function writeNewFile(path: string, data: string | Uint8Array, mode = 0o600): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const fd = openSync(path, OpenFlags.createNew, mode)
  try {
    for (let written = 0; written < bytes.length; )
      written += writeSync(fd, bytes, written, bytes.length - written)
  } finally {
    closeSync(fd)
  }
}

/**
 * Replaces `path` with `text` atomically: a fresh temporary file created exclusively (a link planted at
 * its name makes this fail instead of writing through it), then renamed over `path` (which replaces a
 * link at `path` itself, never its target). The file and then its directory reach the disk before this
 * returns, so a machine crash leaves either the old file or the whole new one, never an empty one.
 */
export function replaceFile(path: string, text: string, mode = 0o600): void {
  const temp = `${path}.tmp`
  rmSync(temp, { force: true })
  const fd = openSync(temp, OpenFlags.createNew, mode)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, path)
  syncDirectorySync(dirname(path))
}

function syncDirectorySync(dir: string): void {
  // Windows cannot open a directory for syncing, and NTFS journals renames anyway.
  if (process.platform === 'win32') return
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
