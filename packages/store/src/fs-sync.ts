import { type FileHandle, open } from 'node:fs/promises'

/** Writes all of `bytes` at `position`: a single write may be partial (a full disk, a signal). */
export async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done)
    done += bytesWritten
  }
}

/** Makes a created, renamed or removed entry of `dir` durable: fsync of the file alone does not. */
export async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for syncing, and NTFS journals renames anyway.
  if (process.platform === 'win32') return
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
