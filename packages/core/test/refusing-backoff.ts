import type { Backoff } from '../src/peer-machine.js'

/**
 * A backoff for tests of refusals: short ordinary redials, no jitter, and a refusal wait of 10 s doubling
 * to 40 s, so each step of a row of refusals is a distinct, exact delay.
 */
export const REFUSING_BACKOFF: Backoff = {
  baseMs: 100,
  maxMs: 1000,
  jitter: 0,
  stableMs: 5000,
  refused: { baseMs: 10_000, maxMs: 40_000 },
}
