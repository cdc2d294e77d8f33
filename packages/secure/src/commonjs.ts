/// <reference path="./types/secret-stream.d.ts" />
/// <reference path="./types/sodium-native.d.ts" />
/**
 * The CommonJS libraries this package loads at start-up, loaded with `require`. Imported as ES modules,
 * Node 20 first reads each one's source to find its exports, wraps it, then loads it as CommonJS anyway:
 * spawn to `listening` took 247 ms that way, 202 ms this way (median of 12, alternated).
 */
import { createRequire } from 'node:module'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type NoiseCurve from 'noise-curve-ed'
import type NoiseState from 'noise-handshake'
import type Sodium from 'sodium-native'
import { type AddonSource, preloadSodiumAddon } from './sodium-addon.js'

const require = createRequire(import.meta.url)

/** How sodium-native's addon was found (tests check that the direct way is taken where it should be). */
export const sodiumAddon: AddonSource = preloadSodiumAddon(require)
export const SecretStream: typeof NoiseSecretStream = require('@hyperswarm/secret-stream')
export const sodium: typeof Sodium = require('sodium-native')
export const Noise: typeof NoiseState = require('noise-handshake')
export const curve: typeof NoiseCurve = require('noise-curve-ed')
