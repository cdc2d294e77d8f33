/// <reference path="./types/hyper.d.ts" />
/**
 * The CommonJS libraries of the DHT stack, loaded with `require`. Imported as ES modules, Node 20 first
 * reads each one's source to find its exports, wraps it, then loads it as CommonJS anyway: loading this
 * package took 215 ms that way, 196 ms this way (a `node` process importing it, median of 8, alternated).
 */
import { createRequire } from 'node:module'
import type * as BlindRelay from 'blind-relay'
import type HyperDHT from 'hyperdht'
import type Hyperswarm from 'hyperswarm'

const require = createRequire(import.meta.url)

export const DHT: typeof HyperDHT = require('hyperdht')
export const Swarm: typeof Hyperswarm = require('hyperswarm')
export const BlindRelayServer: typeof BlindRelay.Server = (require('blind-relay') as typeof BlindRelay).Server
