export * from './fault-proxy.js'
export * from './parley-process.js'
export * from './process-faults.js'
export * from './test-processes.js'
