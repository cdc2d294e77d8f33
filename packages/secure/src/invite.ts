import { formatAddress, parseAddress } from '@parley/transport-tcp'
import { InviteError } from './errors.js'
import { fingerprint, parseKeyOrFingerprint } from './fingerprint.js'
import { keyAddress } from './key-address.js'

export interface Invite {
  /** Where the inviting node listens, `HOST:PORT`, or its key-only address `dht:KEYHEX` (dial it by key). */
  address: string
  /** Its public key, lowercase hex (pin it when dialing `address`). */
  key: string
}

const SCHEME = 'parley://'
const WILDCARDS = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0'])

/**
 * One line that tells a friend where to dial and which key to expect there.
 * @example encodeInvite({ address: '203.0.113.7:4001', key }) // 'parley://203.0.113.7:4001/abcd-efgh-…'
 */
export function encodeInvite(invite: Invite): string {
  let address: string
  try {
    const parsed = parseAddress(invite.address)
    if (WILDCARDS.has(parsed.host)) {
      throw new InviteError(
        `${invite.address} means "every interface"; an invite needs an address others can dial, such as your LAN or public IP`,
      )
    }
    if (parsed.port === 0) throw new InviteError(`${invite.address} has port 0; use the port actually bound`)
    address = formatAddress(parsed)
  } catch (err) {
    if (err instanceof InviteError) throw err
    throw new InviteError(`cannot make an invite: ${(err as Error).message}`, { cause: err })
  }
  return `${SCHEME}${address}/${fingerprint(parseKeyOrFingerprint(invite.key)).full}`
}

/**
 * The key-only invite: the fingerprint alone, for a node reached by its key on the DHT.
 * @example encodeKeyInvite(key) // 'parley://abcd-efgh-…'
 */
export function encodeKeyInvite(key: string): string {
  return `${SCHEME}${fingerprint(parseKeyOrFingerprint(key)).full}`
}

/** True when `text` is written as an invite (`parley://…`), whichever kind. */
export function isInvite(text: string): boolean {
  return text.trim().toLowerCase().startsWith(SCHEME)
}

/**
 * Reads an invite code made by `encodeInvite` or `encodeKeyInvite` (whose address is then `dht:KEYHEX`), checking the address and the fingerprint's checksum.
 * @example decodeInvite('parley://[::1]:4001/abcd-…') // { address: '[::1]:4001', key: '…' }
 */
export function decodeInvite(code: string): Invite {
  const text = unwrap(code)
  if (!text.toLowerCase().startsWith(SCHEME)) {
    throw new InviteError(`"${shorten(text)}" is not a parley invite (it should start with ${SCHEME})`)
  }
  const rest = text.slice(SCHEME.length)
  const slash = rest.lastIndexOf('/')
  if (slash < 0 && !rest.includes(':')) {
    try {
      const key = parseKeyOrFingerprint(rest)
      return { address: keyAddress(key), key }
    } catch (err) {
      throw new InviteError(`invite has a bad fingerprint: ${(err as Error).message}`, { cause: err })
    }
  }
  if (slash < 0)
    throw new InviteError(
      'invite is incomplete: expected parley://HOST:PORT/FINGERPRINT or parley://FINGERPRINT',
    )
  let address: string
  try {
    address = formatAddress(parseAddress(rest.slice(0, slash)))
  } catch (err) {
    throw new InviteError(`invite has a bad address: ${(err as Error).message}`, { cause: err })
  }
  try {
    return { address, key: parseKeyOrFingerprint(rest.slice(slash + 1)) }
  } catch (err) {
    throw new InviteError(`invite has a bad fingerprint: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * An invite as pasted, without what mail and chat put around a link (`<…>`, quotes, a trailing slash or
 * full stop) or inside it (zero-width spaces at a line break). Every invite ends in its fingerprint,
 * whose checksum still catches a character lost with them.
 */
function unwrap(code: string): string {
  const text = code.replace(/[\u200b-\u200d\u2060\ufeff]/g, '').trim()
  const start = text.toLowerCase().indexOf(SCHEME)
  const wrapped = start > 0 && /^[<("'`[]+$/.test(text.slice(0, start))
  return (wrapped ? text.slice(start) : text).replace(/[^a-z0-9]+$/i, '')
}

function shorten(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
