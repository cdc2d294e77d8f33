export * from './display.js'
export * from './exit-codes.js'
export * from './flags.js'
export * from './session.js'
