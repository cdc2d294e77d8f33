/**
 * `--history N` on a data dir whose journal holds lines a member dated years ahead: each is shown where it
 * arrived (the receipt's `at`), so the replies written after it are the last N; a receipt of an earlier
 * release, without `at`, is placed by its send time as before.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { jsonEvents, tempDir, useBuiltParley, waitUntil } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const NOW = Date.UTC(2026, 11, 7, 21)
const AHEAD = NOW + 10 * 365 * 86_400_000

/** A receipt from `who` (its id a hex digit repeated), written at `ts`; `at` when it arrived, if recorded. */
function receipt(who: string, digit: string, seq: number, ts: number, at?: number) {
  const msg = { type: 'msg', id: `${who}${seq}`, seq, ts, from: digit.repeat(64), body: `${who} line ${seq}` }
  return at === undefined ? { t: 'received', msg, name: who } : { t: 'received', msg, name: who, at }
}

/** A data dir whose journal holds `frames`, one append each, as the store writes them. */
function dataDirWith(frames: readonly unknown[][]): string {
  const dir = tempDir()
  const parts = [Buffer.from('parley-log 1\n')]
  for (const records of frames) {
    const payload = Buffer.from(JSON.stringify(records))
    const header = Buffer.alloc(8)
    header.writeUInt32BE(payload.length, 0)
    header.writeUInt32BE(crc32(payload), 4)
    parts.push(header, payload)
  }
  writeFileSync(join(dir, 'journal.log'), Buffer.concat(parts), { mode: 0o600 })
  return dir
}

/** The bodies of the `shown` history events `--history count` prints from a data dir holding `frames`. */
async function historyOf(frames: readonly unknown[][], count: number, shown: number): Promise<unknown[]> {
  const dir = dataDirWith(frames)
  const proc = start(['--listen', '127.0.0.1:0', '--data-dir', dir, '--json', '--history', String(count)])
  await waitUntil(() => jsonEvents(proc, 'history').length >= shown, 30_000, `${shown} history events`)
  proc.kill('SIGTERM')
  await proc.exited
  return jsonEvents(proc, 'history').map((e) => e.body)
}

describe('--history N orders lines by when they were written, never later than they arrived', () => {
  it('shows the replies written after lines dated years ahead, and reads receipts without an arrival time', async () => {
    const frames = [
      [{ t: 'self', epoch: 'e1' }],
      // An earlier release's receipt: no `at`.
      [receipt('erin', 'e', 1, NOW - 5_000)],
      [receipt('mallory', 'f', 1, AHEAD, NOW), receipt('mallory', 'f', 2, AHEAD + 1, NOW + 1)],
      [receipt('carol', 'c', 1, NOW + 1_000, NOW + 1_000)],
      [receipt('dave', 'd', 1, NOW + 2_000, NOW + 2_000)],
    ]
    expect(await historyOf(frames, 2, 2)).toEqual(['carol line 1', 'dave line 1'])
    expect(await historyOf(frames, 10, 5)).toEqual([
      'erin line 1',
      'mallory line 1',
      'mallory line 2',
      'carol line 1',
      'dave line 1',
    ])
  })
})
