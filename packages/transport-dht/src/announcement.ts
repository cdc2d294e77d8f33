/// <reference path="./types/hyper.d.ts" />
import type HyperDHT from 'hyperdht'

/**
 * A server checks this often that its key is still announced somewhere. HyperDHT announces again every
 * ~5 minutes, or when the DHT nodes holding the announcement stop answering its pings; an announce made
 * while the network was gone (or the DHT nodes did not answer) reaches none, and then nothing is pinged and
 * nothing announces the key again for those ~5 minutes: dialers by key find nobody to pass their handshake
 * on. A member found in a room is dialed by its key too, so it is the same gap there.
 */
export const ANNOUNCE_CHECK_MS = 5_000

/**
 * A listening server whose last announce reached no DHT node: dialers look its key up and find it nowhere,
 * or at DHT nodes that no longer pass handshakes on to it. A server that is not firewalled names its own
 * address in its announcement, but a dialer learns that address only from the DHT nodes that hold it.
 */
export function announcedNowhere(
  server: Pick<HyperDHT.Server, 'listening' | 'relayAddresses'>,
  dht: Pick<HyperDHT, 'remoteAddress'>,
): boolean {
  if (!server.listening) return false
  const own = dht.remoteAddress()
  return server.relayAddresses.every(
    (address) => own !== null && address.host === own.host && address.port === own.port,
  )
}

/** Announces the key again whenever the last announce reached no DHT node; returns the stop. */
export function keepAnnounced(
  server: Pick<HyperDHT.Server, 'listening' | 'relayAddresses' | 'refresh'>,
  dht: Pick<HyperDHT, 'remoteAddress'>,
): () => void {
  const check = setInterval(() => {
    if (announcedNowhere(server, dht)) server.refresh()
  }, ANNOUNCE_CHECK_MS)
  check.unref()
  return () => clearInterval(check)
}
