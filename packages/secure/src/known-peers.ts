import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { formatAddress, parseAddress } from '@parley/transport-tcp'
import { isKeyHex } from './fingerprint.js'
import { KEY_ADDRESS_PREFIX, keyOfAddress } from './key-address.js'
import { randomSuffix } from './random.js'
import { badLine, readTextIfExists, splitTrustLines } from './trust-file.js'

export const KNOWN_PEERS_FILE = 'known_peers'

export interface KnownPeer {
  /** `HOST:PORT` as dialed (normalized by `formatAddress`), or a key-only `dht:KEYHEX`. */
  address: string
  /** Lowercase hex public key. */
  key: string
  name?: string
  /** 1-based line in the file. */
  line: number
}

export type KnownPeerCheck = 'new' | 'match' | { mismatch: string; line: number }

const HEADER = [
  '# parley known peers: the key first seen at each dialed address (trust on first use).',
  '# One "ADDRESS KEYHEX [name]" per line. Delete a line to accept a new key for that address.',
  '',
].join('\n')

/**
 * The keys this node has seen at the addresses it dialed, like ssh's known_hosts.
 * @example const known = await KnownPeers.open(dataDir); known.check('127.0.0.1:4001', key)
 */
export class KnownPeers {
  private readonly byAddress = new Map<string, KnownPeer>()
  private writes: Promise<void> = Promise.resolve()

  private constructor(
    readonly file: string,
    peers: KnownPeer[],
  ) {
    for (const peer of peers) if (!this.byAddress.has(peer.address)) this.byAddress.set(peer.address, peer)
  }

  /** Reads `dir/known_peers` (a missing file is an empty list). */
  static open(dir: string): Promise<KnownPeers> {
    return KnownPeers.load(join(dir, KNOWN_PEERS_FILE))
  }

  /** Reads a known-peers file; a malformed line is an error naming the file and line. */
  static async load(file: string): Promise<KnownPeers> {
    return new KnownPeers(file, parseKnownPeers((await readTextIfExists(file)) ?? '', file))
  }

  check(address: string, key: string): KnownPeerCheck {
    const known = this.byAddress.get(normalizeAddress(address))
    if (!known) return 'new'
    if (known.key === key.toLowerCase()) return 'match'
    return { mismatch: known.key, line: known.line }
  }

  get(address: string): KnownPeer | undefined {
    return this.byAddress.get(normalizeAddress(address))
  }

  entries(): KnownPeer[] {
    return [...this.byAddress.values()]
  }

  /**
   * Records `key` for `address`, replacing the line of a different key stored for it. Writes are
   * serialized and atomic (a temporary file renamed into place), and keep comments and other lines.
   */
  remember(address: string, key: string, name?: string): Promise<void> {
    const address_ = normalizeAddress(address)
    const line = [address_, key.toLowerCase(), cleanName(name)].filter(Boolean).join(' ')
    const run = this.writes.then(() => this.write(address_, line))
    this.writes = run.catch(() => {})
    return run
  }

  private async write(address: string, line: string): Promise<void> {
    const text = (await readTextIfExists(this.file)) ?? HEADER
    const lines = text.split('\n')
    const existing = parseKnownPeers(text, this.file).find((peer) => peer.address === address)
    if (existing) lines[existing.line - 1] = line
    else {
      if (lines.at(-1) === '') lines.pop()
      lines.push(line, '')
    }
    const updated = lines.join('\n')
    if (updated !== text) {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 })
      const temp = `${this.file}.${process.pid}.${randomSuffix()}`
      // 'wx': a fresh file, never one a link planted at this name points to.
      await writeFile(temp, updated, { mode: 0o600, flag: 'wx' })
      await rename(temp, this.file)
    }
    this.byAddress.clear()
    for (const peer of parseKnownPeers(updated, this.file)) {
      if (!this.byAddress.has(peer.address)) this.byAddress.set(peer.address, peer)
    }
  }
}

/** What to do about a line that cannot be read, said after what is wrong with it. */
const FIX_LINE =
  'correct that line, or delete it to trust the key the next dial there meets (as on first use)'

function parseKnownPeers(text: string, file: string): KnownPeer[] {
  return splitTrustLines(text).map(({ number, words }): KnownPeer => {
    const [addressText, key, ...name] = words
    if (key === undefined) throw badLine(file, number, `expected "ADDRESS KEYHEX [name]"; ${FIX_LINE}`)
    let address: string
    try {
      address = normalizeAddress(addressText!)
    } catch (err) {
      throw badLine(file, number, `${(err as Error).message}; ${FIX_LINE}`, err)
    }
    if (!isKeyHex(key)) throw badLine(file, number, `"${key}" is not a 64-character hex key; ${FIX_LINE}`)
    return { address, key: key.toLowerCase(), line: number, ...(name.length ? { name: name.join(' ') } : {}) }
  })
}

/**
 * `localhost:4001` and `[::1]:4001` stay distinct; only spelling is normalized (brackets, `:PORT`). A
 * key-only address (`dht:KEYHEX`) is kept as it is, its key in lowercase.
 */
export function normalizeAddress(text: string): string {
  const key = keyOfAddress(text)
  if (key !== undefined) return `${KEY_ADDRESS_PREFIX}${key}`
  return formatAddress(parseAddress(text))
}

function cleanName(name: string | undefined): string | undefined {
  const clean = name?.replace(/[\u0000-\u001f\u007f#]/g, ' ').trim()
  return clean ? clean : undefined
}
