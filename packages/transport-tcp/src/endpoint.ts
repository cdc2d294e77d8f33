import { formatAddress } from './address.js'

const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i

/** An IPv4 peer of a dual-stack socket shows up as `::ffff:1.2.3.4`; people know it as `1.2.3.4`. */
export function plainHost(host: string): string {
  return IPV4_MAPPED.exec(host)?.[1] ?? host
}

/** A socket's end as `HOST:PORT`, or undefined when the socket no longer knows it (already closed). */
export function endpoint(host: string | undefined, port: number | undefined): string | undefined {
  if (host === undefined || port === undefined) return undefined
  return formatAddress({ host: plainHost(host), port })
}
