'use strict'
// The node thread's entry (see src/node-thread/early.ts): its bundle serves the node once loaded.
require('./node-host-boot.cjs').load()
