/**
 * What a command line needs from the DHT transport without starting it: bootstrap addresses, public keys,
 * room codes and the typed error. None of these load Hyperswarm, so a program can parse its flags (and
 * run without the DHT at all) without paying for it; `import('@parley/transport-dht')` when it starts.
 */
export { type BootstrapNode, formatBootstrap, parseBootstrap } from './bootstrap.js'
export { DhtError, DhtErrorCode } from './errors.js'
export { parsePublicKey } from './keys.js'
export { createRoomCode, parseRoomCode } from './room-code.js'
