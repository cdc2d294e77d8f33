export { createTcpTransport, type TcpTransportOptions } from './transport.js'
