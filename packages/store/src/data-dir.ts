import {
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { DataDirError, errorCode } from './errors.js'
import { linkAdvice, writeNewFile } from './private-files.js'

export interface DataDir {
  /** Absolute path of the directory. */
  readonly path: string
  /** The path of a file directly inside the directory: `dir.file('journal.log')`. */
  file(name: string): string
  /** Removes the lock; idempotent. Also done on process exit. */
  release(): void
}

export interface DataDirOptions {
  /** Told when a stale lock is taken over; defaults to `process.emitWarning`. */
  onWarning?: (message: string) => void
}

export const LOCK_FILE = 'lock'

/** `$XDG_DATA_HOME/parley`, or `~/.local/share/parley` when it is unset (or not absolute, as the XDG spec says). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env.XDG_DATA_HOME
  return xdg && isAbsolute(xdg) ? join(xdg, 'parley') : join(home, '.local', 'share', 'parley')
}

/**
 * Creates `dir` if needed (mode 0700), checks that it is a writable directory that only this user can
 * change, with room for a node to start (`ROOM_PROBE_BYTES`), and locks it for this process, so two nodes
 * cannot share it. Rejects with `DataDirError` (`NOT_A_DIRECTORY`, `NOT_OWNED`, `UNSAFE_PERMISSIONS`,
 * `UNWRITABLE`, `NO_SPACE`, `LOCKED`).
 *
 * Its steps are synchronous calls: a node opens its data dir once, as it starts and before it does
 * anything else, and the dozen calls took 5 ms through the thread pool, against under 2 ms this way.
 */
export async function openDataDir(dir: string, options: DataDirOptions = {}): Promise<DataDir> {
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, 'ParleyStoreWarning'))
  const path = resolve(dir)
  ensureDirectory(path)
  checkOwnership(path)
  probeWritable(path)
  const lockPath = join(path, LOCK_FILE)
  acquireLock(path, lockPath, warn)
  removeStaleProbes(path)
  return lockedDataDir(path, lockPath)
}

/**
 * The room probes of processes that died while probing (a kill during its 64 KiB write): with the lock
 * held, no other node is at this dir, so a probe whose process is gone is removed. One of a process still
 * running (another node probing before it finds the dir locked) is left to it.
 */
function removeStaleProbes(path: string): void {
  let names: string[]
  try {
    names = readdirSync(path)
  } catch {
    return
  }
  for (const name of names) {
    const pid = /^\.probe-(\d{1,10})$/.exec(name)?.[1]
    if (pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue
    removeQuietly(join(path, name))
  }
}

/** Removes `path` if it is there; a failure is left for a later start to retry. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true })
  } catch {
    // Not ours to report: the file is only in the way of a later start, which tries again.
  }
}

/** `statSync`, or the DataDirError that says `path` cannot be read. */
function statOrUnreadable(path: string): Stats {
  try {
    return statSync(path)
  } catch (error) {
    throw unwritable(`data dir ${path} cannot be read`, error)
  }
}

function ensureDirectory(path: string): void {
  try {
    makeDirectory(path)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOTDIR') {
      throw new DataDirError(
        'NOT_A_DIRECTORY',
        `data dir ${path} cannot be created: a parent of it is a file; give another --data-dir`,
        { cause: error },
      )
    }
    throw unwritable(`data dir ${path} cannot be created`, error)
  }
  const info = statOrUnreadable(path)
  if (!info.isDirectory()) {
    throw new DataDirError(
      'NOT_A_DIRECTORY',
      `data dir ${path} is a file, not a directory; give another --data-dir`,
    )
  }
}

/**
 * `mkdir -p` with mode 0700. Not `mkdir({ recursive: true })`: that reports ENOENT for a read-only
 * file system or a full disk (nodejs/node#47098), which would make our error message lie.
 */
function makeDirectory(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 })
  } catch (error) {
    const code = errorCode(error)
    if (code === 'EEXIST') return
    if (code !== 'ENOENT' || dirname(path) === path) throw error
    makeDirectory(dirname(path))
    try {
      mkdirSync(path, { mode: 0o700 })
    } catch (again) {
      if (errorCode(again) !== 'EEXIST') throw again
    }
  }
}

/**
 * As ssh is strict about ~/.ssh: whoever can write the data dir can plant links where parley expects its
 * files, or read the history. So it must belong to this user and be writable by no one else, and no
 * directory above it may be writable by others (a sticky one such as /tmp excepted), or they could swap
 * it. Every release created its data dir with mode 0700, so none of them is refused.
 */
function checkOwnership(path: string): void {
  const uid = process.getuid?.()
  if (uid === undefined) return
  const info = statOrUnreadable(path)
  if (info.uid !== uid) {
    throw new DataDirError(
      'NOT_OWNED',
      `data dir ${path} belongs to another user (uid ${info.uid}, you are ${uid}); give your own --data-dir, or if it is yours: chown -R ${uid} ${path}`,
    )
  }
  if ((info.mode & 0o022) !== 0) {
    throw new DataDirError(
      'UNSAFE_PERMISSIONS',
      `data dir ${path} can be written by other users (mode ${octal(info.mode)}); fix it with: chmod go-w ${path}`,
    )
  }
  for (let above = dirname(path); ; above = dirname(above)) {
    const parent = statOrNothing(above)
    if (parent && (parent.mode & 0o002) !== 0 && (parent.mode & 0o1000) === 0) {
      throw new DataDirError(
        'UNSAFE_PERMISSIONS',
        `data dir ${path} is inside ${above}, which any user can change (mode ${octal(parent.mode)}); fix it with: chmod o-w ${above}, or give another --data-dir`,
      )
    }
    if (dirname(above) === above) return
  }
}

function statOrNothing(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0')
}

/**
 * Room a data dir must have to be opened: the probe writes this much and removes it. A node started on a
 * full disk would fail at its first messages, and what an earlier run journaled but never showed would be
 * shown at every such start without its display mark ever being written: refused here, nothing is shown.
 */
export const ROOM_PROBE_BYTES = 64 * 1024

function probeWritable(path: string): void {
  const probe = join(path, `.probe-${process.pid}`)
  try {
    rmSync(probe, { force: true })
    // Written, not only created: an empty file takes no room, so it would be made on a full disk too.
    writeNewFile(probe, Buffer.alloc(ROOM_PROBE_BYTES))
    rmSync(probe)
  } catch (error) {
    removeQuietly(probe)
    throw unwritable(`data dir ${path} is not writable`, error)
  }
}

function unwritable(what: string, cause: unknown): DataDirError {
  const code = errorCode(cause)
  const advice =
    code === 'EROFS'
      ? 'it is on a read-only file system; give another --data-dir'
      : code === 'ENAMETOOLONG'
        ? 'its path is too long; give a shorter --data-dir'
        : code === 'ENOENT' || code === 'ENOTDIR'
          ? 'it cannot hold files (a special or vanished directory); give another --data-dir'
          : code === 'ENOSPC'
            ? 'the disk holding it is full; free space on that disk, then run parley again'
            : code === 'EDQUOT'
              ? 'your disk quota there is used up; free space in it (or have it raised), then run parley again'
              : code === 'EIO'
                ? 'the disk holding it reports an I/O error; check that disk, or give another --data-dir'
                : 'fix its permissions or give another --data-dir'
  const full = code === 'ENOSPC' || code === 'EDQUOT'
  return new DataDirError(
    full ? 'NO_SPACE' : 'UNWRITABLE',
    `${what} (${code ?? (cause as Error).message}); ${advice}`,
    { cause },
  )
}

/**
 * The lock file holds the owner's pid. It is created complete and atomically (hard link of a written
 * file), so nobody can read it half-written and mistake it for stale.
 */
function acquireLock(dir: string, lockPath: string, warn: (message: string) => void): void {
  const draft = `${lockPath}.${process.pid}`
  // Created afresh, never through a link left at its name.
  rmSync(draft, { force: true })
  try {
    writeNewFile(draft, `${process.pid}\n`)
  } catch (error) {
    throw unwritable(`data dir ${dir} is not writable`, error)
  }
  try {
    // A few rounds: each failed one means another process took or released the lock meanwhile.
    for (let round = 0; round < 5; round++) {
      if (createLock(draft, lockPath)) return
      const holder = readLock(lockPath)
      if (!holder) continue
      if (holder.pid !== undefined && isHeld(lockPath, holder.pid)) throw lockedBy(dir, lockPath, holder.pid)
      if (!removeIfSame(lockPath, holder.ino)) continue
      const owner =
        holder.pid === undefined ? 'an unreadable lock' : `a lock of pid ${holder.pid}, which is not running`
      warn(`data dir ${dir}: took over ${owner} (a parley that did not exit cleanly)`)
    }
    throw lockedBy(dir, lockPath, undefined)
  } finally {
    rmSync(draft, { force: true })
  }
}

function createLock(draft: string, lockPath: string): boolean {
  try {
    linkSync(draft, lockPath)
    return true
  } catch (error) {
    const code = errorCode(error)
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS')
      throw unwritable('cannot create the lock', error)
  }
  // A file system without hard links: exclusive create, then write (a tiny window where the lock is empty).
  try {
    writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' })
    return true
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false
    throw unwritable('cannot create the lock', error)
  }
}

function readLock(lockPath: string): { pid: number | undefined; ino: number } | null {
  try {
    const found = lstatSync(lockPath)
    // Not a lock parley made: a link (dangling or not) or a directory would otherwise pass for one held.
    if (found.isSymbolicLink()) throw new DataDirError('UNWRITABLE', linkAdvice(lockPath))
    if (!found.isFile())
      throw new DataDirError(
        'UNWRITABLE',
        `${lockPath} is ${found.isDirectory() ? 'a directory' : 'not a file'}, where parley keeps its lock; move it away`,
      )
    const { ino } = found
    const text = readFileSync(lockPath, 'utf8').trim()
    const pid = /^\d{1,10}$/.test(text) ? Number(text) : undefined
    return { pid: pid !== undefined && pid > 0 ? pid : undefined, ino }
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null
    throw error
  }
}

/** Removes the stale lock we inspected, not one another process created since. */
function removeIfSame(lockPath: string, ino: number): boolean {
  try {
    if (lstatSync(lockPath).ino !== ino) return false
    unlinkSync(lockPath)
    return true
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false
    throw error
  }
}

function isHeld(lockPath: string, pid: number): boolean {
  // Our own pid in a lock we do not hold: a previous process that had the same pid (pid 1 in a container).
  if (pid === process.pid) return held.has(lockPath)
  return isAlive(pid)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    // A process that died but was never reaped (a zombie, as under a PID 1 that does not reap) holds nothing.
    return !isZombie(pid)
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return errorCode(error) === 'EPERM'
  }
}

function lockedBy(dir: string, lockPath: string, pid: number | undefined): DataDirError {
  if (pid === process.pid) {
    return new DataDirError(
      'LOCKED',
      `data dir ${dir} is already open in this process; open it once and share it`,
    )
  }
  const who = pid === undefined ? 'another parley' : `another parley (pid ${pid})`
  const unless = pid === undefined ? '' : ` (or delete ${lockPath} if pid ${pid} is not parley)`
  return new DataDirError(
    'LOCKED',
    `data dir ${dir} is in use by ${who}; give each node its own --data-dir${unless}`,
  )
}

/** Locks this process holds, released synchronously when it exits. */
const held = new Set<string>()
let exitHookInstalled = false

function lockedDataDir(path: string, lockPath: string): DataDir {
  held.add(lockPath)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const lock of held) releaseLock(lock)
    })
  }
  return {
    path,
    file(name: string) {
      if (name === '' || name === '.' || name === '..' || basename(name) !== name) {
        throw new TypeError(`not a plain file name: ${JSON.stringify(name)}`)
      }
      return join(path, name)
    },
    release() {
      if (held.delete(lockPath)) releaseLock(lockPath)
    },
  }
}

function releaseLock(lockPath: string): void {
  try {
    // After a take-over the file may be someone else's: only remove our own.
    if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath)
  } catch {
    // Already gone, or the directory went away: nothing left to release.
  }
}

/** True when /proc says the process has exited and waits to be reaped (Linux; elsewhere false). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}
