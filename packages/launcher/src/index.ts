export * from './exit-codes.js'
export * from './flags.js'
export * from './session.js'
export * from './display.js'
