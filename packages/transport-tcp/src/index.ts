export {
  formatAddress,
  hostOf,
  isLoopbackHost,
  normalizeAddress,
  parseAddress,
  type TcpAddress,
} from './address.js'
export { createTcpTransport, isTcpAddress, type TcpTransportOptions } from './transport.js'
