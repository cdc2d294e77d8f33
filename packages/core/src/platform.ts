/**
 * The few web-standard APIs core uses, taken from `globalThis` (Node, browsers and Deno all have them)
 * and typed here, so core builds without any platform's type definitions and cannot reach for more.
 */

/** A cancellation signal, as `AbortController` makes it (merges with the platform's own declaration). */
declare global {
  interface AbortSignal {
    readonly aborted: boolean
  }
  interface AbortController {
    readonly signal: AbortSignal
    abort(reason?: unknown): void
  }
}

interface TextEncoding {
  encode(text: string): Uint8Array
  encodeInto(text: string, into: Uint8Array): { read: number; written: number }
}

interface TextDecoding {
  decode(bytes?: Uint8Array, options?: { stream?: boolean }): string
}

interface Platform {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Node's: runs after pending I/O. Absent in browsers. */
  setImmediate?: (callback: () => void) => unknown
  queueMicrotask(callback: () => void): void
  TextEncoder: new () => TextEncoding
  TextDecoder: new (label: 'utf-8', options?: { fatal?: boolean }) => TextDecoding
  AbortController: new () => AbortController
  crypto: { getRandomValues(array: Uint8Array): Uint8Array }
}

export const platform = globalThis as unknown as Platform
