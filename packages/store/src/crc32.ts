import { zlib } from './zlib.js'

let table: Uint32Array | undefined

/** CRC-32 (IEEE, as zip and zlib); the same values as `zlib.crc32`, for Node releases before 20.15. */
export function crc32Portable(data: Uint8Array): number {
  table ??= makeTable()
  let crc = 0xffffffff
  for (const byte of data) crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

function makeTable(): Uint32Array {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
}

let chosen: ((data: Uint8Array) => number) | undefined

/** CRC-32 of `data`: zlib's, native and much faster, where it exists (Node 20.15 on), else the portable one. */
export function crc32(data: Uint8Array): number {
  chosen ??= typeof zlib().crc32 === 'function' ? zlib().crc32 : crc32Portable
  return chosen(data)
}
