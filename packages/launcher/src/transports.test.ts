import type { Link, Transport } from '@parley/core'
import { AddressError, TransportError } from '@parley/core'
import { fingerprint, makeVerifier } from '@parley/secure'
import { describe, expect, it } from 'vitest'
import {
  DHT,
  kindOf,
  parseAddress,
  routedTransport,
  TCP,
  type TransportKind,
  verifiedTransport,
} from './transports.js'

/** A link that records whether it was destroyed; `remoteKey` as a transport that proved it would set. */
function fakeLink(remoteAddress: string, remoteKey?: string, direction: 'inbound' | 'outbound' = 'outbound') {
  const state = { destroyed: false }
  const link: Link = {
    direction,
    remoteAddress,
    localAddress: 'local',
    ...(remoteKey ? { remoteKey } : {}),
    attach: () => undefined,
    write: () => true,
    pause: () => undefined,
    resume: () => undefined,
    end: () => undefined,
    destroy: () => {
      state.destroyed = true
    },
  }
  return { link, state }
}

/** A transport that dials by writing down the address, and whose listener hands over `inbound` links. */
function fakeTransport(name: string, dialed: string[], inbound: Link[] = []): Transport {
  return {
    createListener: (onLink) => ({
      listen: async (address) => {
        for (const link of inbound) onLink(link)
        return `${name}:${address}`
      },
      close: async () => undefined,
    }),
    dial: async (address) => {
      dialed.push(`${name} ${address}`)
      return fakeLink(address, 'a'.repeat(64)).link
    },
  }
}

const KEYED: TransportKind = {
  name: 'keyed',
  owns: (text) => /^[0-9a-f]{64}$/.test(text),
  normalize: (text) => text.toLowerCase(),
  create: () => fakeTransport('keyed', []),
  authenticated: true,
}

describe('transports chosen by the form of the address', () => {
  it('reads TCP addresses into one written form and keeps TCP’s own error for what no transport owns', () => {
    expect(parseAddress(':4001')).toBe('127.0.0.1:4001')
    expect(parseAddress(' [::1]:4001 ')).toBe('[::1]:4001')
    expect(() => parseAddress('4001')).toThrow(AddressError)
    expect(() => parseAddress('4001')).toThrow(/HOST:PORT/)
    expect(parseAddress('b'.repeat(64), [TCP, KEYED])).toBe('b'.repeat(64))
  })

  it('dials each address with the transport that owns its form, and listens with the listen address’s', async () => {
    const dialed: string[] = []
    const transport = routedTransport([
      { kind: TCP, transport: fakeTransport('tcp', dialed) },
      { kind: KEYED, transport: fakeTransport('keyed', dialed) },
    ])
    await transport.dial('127.0.0.1:4001')
    await transport.dial('c'.repeat(64))
    expect(dialed).toEqual(['tcp 127.0.0.1:4001', `keyed ${'c'.repeat(64)}`])
    const listener = transport.createListener(() => undefined)
    expect(await listener.listen('d'.repeat(64))).toBe(`keyed:${'d'.repeat(64)}`)
  })
})

describe('links a transport authenticated itself', () => {
  const good = 'a'.repeat(64)
  const verify = async ({ remoteKey }: { remoteKey: string }) =>
    remoteKey === good ? ('ok' as const) : { refuse: `key ${remoteKey.slice(0, 4)} is not allowed` }

  it('hands over an inbound link whose proven key passes verify, and closes and reports one that does not', async () => {
    const accepted = fakeLink('peer-a', good, 'inbound')
    const refused = fakeLink('peer-b', 'b'.repeat(64), 'inbound')
    const keyless = fakeLink('peer-c', undefined, 'inbound')
    const reports: string[] = []
    const handed: Link[] = []
    const transport = verifiedTransport(
      fakeTransport('keyed', [], [accepted.link, refused.link, keyless.link]),
      verify,
      (address, code, reason) => reports.push(`${address} ${code} ${reason}`),
    )
    await transport.createListener((link) => handed.push(link)).listen('x')
    await expect.poll(() => reports.length).toBe(2)
    expect(handed).toEqual([accepted.link])
    expect(refused.state.destroyed).toBe(true)
    expect(keyless.state.destroyed).toBe(true)
    expect(reports.sort()).toEqual([
      'peer-b UNTRUSTED key bbbb is not allowed',
      'peer-c UNTRUSTED the transport did not prove the peer’s key',
    ])
  })

  it('holds every link its listener hands over to the allowlist, a room member this node found and dialed too', async () => {
    const friend = 'a'.repeat(64)
    const stranger = 'b'.repeat(64)
    const allowOnly = makeVerifier({ allow: new Set([friend]) })
    // Room members found on the DHT come through the listener, as links this node opened.
    const found = fakeLink(`dht:${stranger}`, stranger, 'outbound')
    const foundFriend = fakeLink(`dht:${friend}`, friend, 'outbound')
    const reports: string[] = []
    const handed: Link[] = []
    const transport = verifiedTransport(
      fakeTransport('keyed', [], [found.link, foundFriend.link]),
      allowOnly,
      (address, code) => reports.push(`${address} ${code}`),
    )
    await transport.createListener((link) => handed.push(link)).listen('x')
    await expect.poll(() => reports.length).toBe(1)
    expect(handed).toEqual([foundFriend.link])
    expect(found.state.destroyed).toBe(true)
    expect(reports).toEqual([`dht:${stranger} UNTRUSTED`])
    // A key the user dials by name is chosen, as a pinned one is: the allowlist does not stand in the way.
    const dialing = verifiedTransport(
      {
        ...fakeTransport('keyed', []),
        dial: async (address) => fakeLink(address, stranger).link,
      },
      allowOnly,
      () => {},
    )
    await expect(dialing.dial(`dht:${stranger}`)).resolves.toMatchObject({ remoteKey: stranger })
  })

  it('rejects a dial whose proven key verify refuses, with UNTRUSTED', async () => {
    const strict = verifiedTransport(
      fakeTransport('keyed', []),
      async () => ({ refuse: 'pinned to another key' }),
      () => {},
    )
    const error = await strict.dial('e'.repeat(64)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TransportError)
    expect(error).toMatchObject({ code: 'UNTRUSTED', message: 'pinned to another key' })
  })
})

describe('key-only addresses go to the DHT', () => {
  const KEY = '3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29'
  const full = fingerprint(KEY).full

  it('reads a fingerprint, a hex key, a key-only invite and dht:KEY into dht:KEY', () => {
    for (const text of [full, full.replace(/-/g, ''), KEY.toUpperCase(), `parley://${full}`, `dht:${KEY}`])
      expect(parseAddress(text), text).toBe(`dht:${KEY}`)
    expect(kindOf(full)).toBe(DHT)
    expect(kindOf('127.0.0.1:4001')).toBe(TCP)
  })

  it('reads a fingerprint or key-only invite as pasted: split by spaces, in <…> or quotes, with a full stop after it', () => {
    const pasted = [
      full.replace(/-/g, ' '),
      `<parley://${full}>`,
      `"parley://${full}".`,
      `'${full}'`,
      `${full}.`,
      `parley://${full.replace('-', '-\u200b')}`,
    ]
    for (const text of pasted) expect(parseAddress(text), text).toBe(`dht:${KEY}`)
    // A typo is still caught whatever is around it.
    expect(() => parseAddress(`<parley://${full.slice(0, -1)}a>`)).toThrow(/typo/)
  })

  it('says what is wrong with a short or mistyped fingerprint, and leaves host names to TCP', () => {
    expect(() => parseAddress(fingerprint(KEY).short)).toThrow(/short fingerprint/)
    expect(() => parseAddress(`${full.slice(0, -1)}a`)).toThrow(/typo/)
    expect(() => parseAddress('localhost')).toThrow(/HOST:PORT/)
  })

  it('tells a node without the DHT that dialing by key needs --dht', async () => {
    const transport = routedTransport([
      { kind: TCP, transport: fakeTransport('tcp', []) },
      { kind: DHT, transport: undefined },
    ])
    await expect(transport.dial(`dht:${KEY}`)).rejects.toThrow(/--dht/)
  })
})
