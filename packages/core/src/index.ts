export * from './address.js'
export * from './clock.js'
export * from './errors.js'
export type * from './transport.js'
