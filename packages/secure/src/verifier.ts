import { fingerprint, parseKeyOrFingerprint } from './fingerprint.js'
import { keyOfAddress } from './key-address.js'
import { type KnownPeers, normalizeAddress } from './known-peers.js'

/** What `verify` decides about a peer that proved `remoteKey`: accept, or refuse and say why. */
export type Verdict = 'ok' | { refuse: string }

export interface VerifyInfo {
  /** The key the peer proved it holds (lowercase hex). */
  remoteKey: string
  /** The dialed `HOST:PORT` for outbound links; the remote socket address for inbound ones. */
  address: string
  direction: 'inbound' | 'outbound'
}

/**
 * Sync or async. TypeScript widens `'ok'` returned from an async arrow to `string`, so annotate it:
 * `async (info): Promise<Verdict> => ...`.
 */
export type Verify = (info: VerifyInfo) => Verdict | Promise<Verdict>

export interface VerifierOptions {
  /** Trust on first use for dialed addresses: new keys are remembered, changed keys refused. */
  knownPeers?: KnownPeers
  /** `--peer-key`: the key expected at a dialed address (hex or full fingerprint). Overrides known_peers. */
  pins?: ReadonlyMap<string, string>
  /**
   * Where a pin came from, as a refusal names it (`'the invite given to --join'`), by address; a pin
   * not listed came from `--peer-key`.
   */
  pinnedBy?: ReadonlyMap<string, string>
  /** `--allow` / `--allow-file`: when set, only these keys are accepted (a pinned key counts as allowed). */
  allow?: ReadonlySet<string>
}

/**
 * Builds the `verify` callback for `createSecureTransport` from the node's trust settings.
 * Only dialed links have a meaningful address, so pins and known peers apply to outbound links;
 * inbound links are checked against the allowlist alone.
 * @example createSecureTransport(tcp, { keyPair, verify: makeVerifier({ knownPeers, pins }) })
 */
export function makeVerifier(options: VerifierOptions): Verify {
  const pins = new Map<string, string>()
  for (const [address, key] of options.pins ?? [])
    pins.set(normalizeAddress(address), parseKeyOrFingerprint(key))
  const allow = options.allow
    ? new Set([...options.allow].map((key) => parseKeyOrFingerprint(key)))
    : undefined
  const knownPeers = options.knownPeers
  const pinnedBy = new Map<string, string>()
  for (const [address, by] of options.pinnedBy ?? []) pinnedBy.set(normalizeAddress(address), by)

  return async ({ remoteKey, address, direction }) => {
    const key = remoteKey.toLowerCase()
    if (direction === 'inbound') {
      return allow && !allow.has(key) ? { refuse: notAllowed() } : 'ok'
    }
    const target = normalizeAddress(address)
    const pinned = pins.get(target)
    // A key-only address is its own pin (so, like a pin, it counts as allowed): the node at it must prove
    // that key, and known_peers has nothing to learn about it.
    const named = keyOfAddress(target)
    if (named !== undefined) {
      if (named !== key) return { refuse: keyNotNamed(target, key) }
      return pinned !== undefined && pinned !== key
        ? { refuse: pinMismatch(pinned, key, pinnedBy.get(target)) }
        : 'ok'
    }
    if (pinned !== undefined) {
      if (pinned !== key) return { refuse: pinMismatch(pinned, key, pinnedBy.get(target)) }
      if (knownPeers && knownPeers.check(target, key) !== 'match') await knownPeers.remember(target, key)
      return 'ok'
    }
    if (knownPeers) {
      const known = knownPeers.check(target, key)
      if (typeof known === 'object') {
        return { refuse: keyChanged(target, known.mismatch, key, known.line, knownPeers.file) }
      }
    }
    if (allow && !allow.has(key)) return { refuse: notAllowed() }
    if (knownPeers && knownPeers.check(target, key) === 'new') await knownPeers.remember(target, key)
    return 'ok'
  }
}

function notAllowed(): string {
  return 'its key is not on the allowlist (--allow / --allow-file)'
}

function pinMismatch(pinned: string, presented: string, by = '--peer-key'): string {
  return `it proved a different key than the one pinned with ${by} (pinned ${fingerprint(pinned).full}, presented ${fingerprint(presented).full}): someone may be intercepting the connection`
}

function keyNotNamed(address: string, presented: string): string {
  return [
    `the node reached at ${address} proved ANOTHER key (${fingerprint(presented).full})`,
    'Someone may be intercepting this connection (a man-in-the-middle attack). The link was refused.',
  ].join('\n')
}

function keyChanged(address: string, stored: string, presented: string, line: number, file: string): string {
  return [
    'the key at this address has CHANGED since it was first seen',
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    `@  WARNING: THE KEY OF PEER ${address} HAS CHANGED!`,
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    'Someone may be intercepting this connection (a man-in-the-middle attack),',
    'or the peer may have created a new identity.',
    `  known key (${file} line ${line}): ${fingerprint(stored).full}`,
    `  key presented now:           ${fingerprint(presented).full}`,
    'The link was refused. If you trust the new key, remove',
    `line ${line} (${address}) from ${file}, or pass --peer-key ${fingerprint(presented).full}`,
  ].join('\n')
}

/** Address and key pairs whose refusal was told in full, at most (see `makeAnnouncementCheck`). */
export const WARNED_CAP = 1_000

/**
 * Vets a peer that dialed in and announced `listen` as its own address: an address this node pinned or
 * has seen before must present the same key, whichever side dialed. Returns a reason to refuse, or
 * undefined. Inbound links carry no dialed address, so this closes the gap a changed key could use by
 * dialing in instead of being dialed.
 */
export function makeAnnouncementCheck(options: Pick<VerifierOptions, 'knownPeers' | 'pins' | 'pinnedBy'>) {
  const pins = new Map<string, string>()
  for (const [address, key] of options.pins ?? [])
    pins.set(normalizeAddress(address), parseKeyOrFingerprint(key))
  const pinnedBy = new Map<string, string>()
  for (const [address, by] of options.pinnedBy ?? []) pinnedBy.set(normalizeAddress(address), by)
  const knownPeers = options.knownPeers
  // A refused peer that does not know why redials, and is refused again: the full warning is said once
  // per address and key, then one line each time. The pairs warned about are bounded (the oldest go):
  // strangers making up keys and addresses cannot make the node hold more.
  const warned = new Set<string>()
  const once = (target: string, key: string, warning: string): string => {
    const seen = `${target} ${key}`
    if (!warned.has(seen)) {
      warned.add(seen)
      if (warned.size > WARNED_CAP) warned.delete(warned.values().next().value!)
      return warning
    }
    return `peer announcing ${target}: refused again, with the key ${fingerprint(key).full} (see the warning above)`
  }
  return (peerId: string, listen: string | undefined): string | undefined => {
    if (listen === undefined) return undefined
    let target: string
    try {
      target = normalizeAddress(listen)
    } catch {
      return undefined
    }
    const key = peerId.toLowerCase()
    const named = keyOfAddress(target)
    if (named !== undefined && named !== key)
      return once(target, key, `peer announcing ${target}: ${keyNotNamed(target, key)}`)
    const pinned = pins.get(target)
    if (pinned !== undefined)
      return pinned === key
        ? undefined
        : `peer announcing ${target}: ${pinMismatch(pinned, key, pinnedBy.get(target))}`
    const known = knownPeers?.check(target, key)
    if (known && typeof known === 'object') {
      return once(
        target,
        key,
        `peer announcing ${target}: ${keyChanged(target, known.mismatch, key, known.line, knownPeers!.file)}`,
      )
    }
    return undefined
  }
}

/**
 * Whether a pin (`--peer-key`, an invite, or a known_peers line) names `peerId` at the address `listen`:
 * only then may a peer that dialed in, announcing an address this node dials, stand for that dial.
 */
export function makePinCheck(options: Pick<VerifierOptions, 'knownPeers' | 'pins'>) {
  const pins = new Map<string, string>()
  for (const [address, key] of options.pins ?? [])
    pins.set(normalizeAddress(address), parseKeyOrFingerprint(key))
  const knownPeers = options.knownPeers
  return (peerId: string, listen: string): boolean => {
    let target: string
    try {
      target = normalizeAddress(listen)
    } catch {
      return false
    }
    const key = peerId.toLowerCase()
    const pinned = pins.get(target)
    if (pinned !== undefined) return pinned === key
    return knownPeers?.check(target, key) === 'match'
  }
}
