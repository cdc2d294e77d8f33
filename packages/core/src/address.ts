/**
 * Where a node listens or dials, written the way its transport writes it: `HOST:PORT` for TCP, a public
 * key for a transport that dials by key. Opaque to core, which only stores, compares and shows it; the
 * transport parses it (and throws an `AddressError` for one it cannot read).
 */
export type Address = string
