export * from './adversary.js'
