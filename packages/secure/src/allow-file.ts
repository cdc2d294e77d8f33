import { TrustFileError } from './errors.js'
import { parseKeyOrFingerprint } from './fingerprint.js'
import { badLine, readTextIfExists, splitTrustLines } from './trust-file.js'

/**
 * Reads an allow file: one full fingerprint or hex key per line, optionally followed by a label
 * (`abcd-efgh-… alice`), with `#` comments. Returns the keys as lowercase hex.
 * @example const allow = await readAllowFile('friends.txt') // Set { 'c0ffee…' }
 */
export async function readAllowFile(file: string): Promise<Set<string>> {
  const text = await readTextIfExists(file).catch((err: unknown) => {
    // A directory is no place for "move it away" (the advice for files in a data dir): it was given here.
    if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'EISDIR') {
      throw new TrustFileError(
        'READ_FAILED',
        `allow file ${file} is a directory; give --allow-file a file of keys, one per line`,
        file,
        undefined,
        { cause: err },
      )
    }
    throw err
  })
  if (text === undefined) throw new TrustFileError('READ_FAILED', `allow file ${file} does not exist`, file)
  return parseAllowList(text, file)
}

export function parseAllowList(text: string, file = 'allow file'): Set<string> {
  const keys = new Set<string>()
  for (const { number, words } of splitTrustLines(text)) {
    try {
      keys.add(parseKeyOrFingerprint(words[0]!))
    } catch (err) {
      throw badLine(file, number, (err as Error).message, err)
    }
  }
  return keys
}
