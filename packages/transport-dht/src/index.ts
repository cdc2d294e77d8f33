export {
  type BootstrapNode,
  chooseBootstrap,
  formatBootstrap,
  PRIVATE_ONLY_ENV,
  parseBootstrap,
  privateOnly,
} from './bootstrap.js'
export { DhtError, DhtErrorCode } from './errors.js'
export { type KeyPair, parsePublicKey } from './keys.js'
export type { DhtLink, LinkPath, LinkPurpose } from './link.js'
export { createRoomCode, openRoom, parseRoomCode, type Room } from './room-code.js'
export {
  type BootstrapNodeOptions,
  createLocalTestnet,
  type LocalTestnet,
  type RelayOptions,
  type RunningBootstrapNode,
  type RunningRelay,
  runBootstrapNode,
  runRelay,
} from './servers.js'
export {
  type DhtNetworkInfo,
  type DhtTransport,
  type DhtTransportOptions,
  type JoinedRoom,
  startDhtTransport,
} from './transport.js'
