/**
 * Bytes on disk per account: which records of the log belong to whom, so that a caller can cap what
 * one party (and all of them together) makes the log hold. The log keeps the count as it appends,
 * rebuilds it on open and after a rewrite, and never reads the file again for it.
 */

/** Names the account a record's bytes count against, or undefined for records counted against no one. */
export type AccountOf = (record: unknown) => string | undefined

/** Bytes held per account; a live view that the log updates. */
export class LogUsage {
  #bytes = new Map<string, number>()
  #total = 0

  /** Bytes of the records counted against `account` (0 if none). */
  bytesOf(account: string): number {
    return this.#bytes.get(account) ?? 0
  }

  /** Bytes of every record counted against some account. */
  get total(): number {
    return this.#total
  }

  /** Accounts holding bytes, with their bytes; for reports. */
  accounts(): Map<string, number> {
    return new Map(this.#bytes)
  }

  /** @internal Adds one frame: `frameBytes` is its whole size stored plain, header included. */
  addFrame(records: readonly unknown[], frameBytes: number, accountOf: AccountOf): void {
    if (records.length === 0) return
    const first = accountOf(records[0])
    let mixed = false
    for (let i = 1; i < records.length && !mixed; i++) mixed = accountOf(records[i]) !== first
    if (!mixed) {
      if (first !== undefined) this.#add(first, frameBytes)
      return
    }
    // An append naming several parties, or a rewrite's frame: each record is measured on its own, and
    // the framing (header, brackets) goes with the first record.
    let rest = frameBytes
    for (let i = records.length - 1; i >= 0; i--) {
      const record = records[i]
      const bytes = i === 0 ? rest : Buffer.byteLength(JSON.stringify(record)) + 1
      rest -= bytes
      const account = accountOf(record)
      if (account !== undefined) this.#add(account, bytes)
    }
  }

  /** @internal Forgets every count (before a rewrite's records are counted). */
  reset(): void {
    this.#bytes = new Map()
    this.#total = 0
  }

  /** @internal Takes `out` away and puts `in` back (a rewrite that did not happen). */
  swap(out: ReadonlyMap<string, number>, back: ReadonlyMap<string, number>): void {
    for (const [account, bytes] of out) this.#add(account, -bytes)
    for (const [account, bytes] of back) this.#add(account, bytes)
    for (const [account, bytes] of this.#bytes) if (bytes === 0) this.#bytes.delete(account)
  }

  #add(account: string, bytes: number): void {
    this.#bytes.set(account, (this.#bytes.get(account) ?? 0) + bytes)
    this.#total += bytes
  }
}
