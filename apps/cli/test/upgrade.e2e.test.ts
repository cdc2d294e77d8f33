/**
 * Stored data outlives releases: data dirs written by an earlier release open in this build with nothing
 * lost. Each `fixtures/datadir-*` was made by the release it names in its `fixture.json`, with
 * `node tooling/scripts/make-upgrade-fixture.mjs` (alice, bob and carol chatted, carol through bob; bob's
 * journal went through that release's compaction; then alice sent lines while alone, which wait
 * unacknowledged in her outbox; in `datadir-0.3`, made by f315431 with `--piped`, three more piped
 * together wait behind them as one message of three lines, in a journal of format 2). `fixture.json`
 * holds what that release printed and showed.
 */
import { chmodSync, cpSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Adversary } from '@parley/adversary'
import {
  finished,
  type JsonEvent,
  jsonEvents,
  type Proc,
  tempDir,
  useBuiltParley,
  WAIT_CEILING_MS,
  waitUntil,
} from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start, defer } = useBuiltParley()

type Name = 'alice' | 'bob' | 'carol'
interface Fixture {
  release: string
  /** Where alice and bob listened when the release made the dirs: bob's and carol's known_peers pin them. */
  addresses: Record<'alice' | 'bob', string>
  nodes: Record<Name, { id: string; fingerprint: string; name: Name; history: HistoryLine[] }>
  /**
   * Alice's lines that no peer acknowledged before she exited, and how many lines each message of them
   * carries, in order (lines piped together go as one message of several; absent, one each).
   */
  outbox: { from: 'alice'; to: 'bob'; bodies: string[]; lines?: number[] }
  /** Permission bits of every dir and file as the release created them, by path under the fixture. */
  modes: Record<string, string>
}
interface HistoryLine {
  direction: 'in' | 'out'
  from: Name
  body: string
}

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
const NAMES = ['alice', 'bob', 'carol'] as const
const fixtureDirs = readdirSync(FIXTURES)
  .filter((entry) => entry.startsWith('datadir-'))
  .sort()

/** A stderr line that would mean the old format was not read as it was written. */
const FORMAT_TROUBLE = /warn|error|torn|corrupt|cut off|journal|compact|unusable|refus/i

function expectNoFormatTrouble(proc: Proc, json = true): void {
  expect(proc.stderr.filter((line) => FORMAT_TROUBLE.test(line))).toEqual([])
  if (json) {
    const trouble = jsonEvents(proc).filter((e) => ['error', 'journal-error', 'not-json'].includes(e.type))
    expect(trouble).toEqual([])
  }
}

function node(name: Name, dir: string, extra: string[] = []): Proc {
  return start(['--listen', '127.0.0.1:0', '--name', name, '--data-dir', dir, ...extra])
}

async function listening(proc: Proc): Promise<string> {
  const line = await proc.waitFor('stdout', /"type":"listening"/)
  return String((JSON.parse(line) as JsonEvent).address)
}

/** Resolves once `proc` printed a `message` event with this body. */
function shows(proc: Proc, body: string): Promise<string> {
  return proc.waitFor('stdout', new RegExp(`"type":"message".*"body":${literally(JSON.stringify(body))}`))
}

function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

async function stop(proc: Proc): Promise<number | null> {
  proc.kill('SIGTERM')
  await finished(proc)
  return proc.child.exitCode
}

it('finds the fixtures, the one of release 79f2ecc among them', () => {
  expect(fixtureDirs).toContain('datadir-0.1')
})

describe.each(fixtureDirs)(
  '%s: data dirs of an earlier release open in this build with nothing lost',
  (dirName) => {
    const fixtureDir = join(FIXTURES, dirName)
    const fixture = JSON.parse(readFileSync(join(fixtureDir, 'fixture.json'), 'utf8')) as Fixture

    /**
     * A private copy of one of the release's data dirs. Git keeps no 0600/0700 modes, and this build refuses
     * a data dir that others can write and an identity key that others can read: the copy gets back the modes
     * the release created, as a user's dir has them.
     */
    const copyOf = (name: Name): string => {
      const root = tempDir('parley-upgrade-')
      defer(() => rmSync(root, { recursive: true, force: true }))
      cpSync(join(fixtureDir, name), join(root, name), { recursive: true })
      for (const [path, mode] of Object.entries(fixture.modes)) {
        if (path === name || path.startsWith(`${name}/`))
          chmodSync(join(root, path), Number.parseInt(mode, 8))
      }
      return join(root, name)
    }

    it('parley id prints the fingerprint the release gave each identity, without a word on stderr', async () => {
      const run = async (name: Name, args: string[]): Promise<Proc> => {
        const proc = start(['id', ...args, '--data-dir', copyOf(name)])
        expect(await proc.exited).toBe(0)
        await finished(proc)
        expect(proc.stderr).toEqual([])
        return proc
      }
      await Promise.all(
        NAMES.map(async (name) => {
          const json = await run(name, ['--json'])
          const printed = JSON.parse(json.stdout.join('\n')) as JsonEvent
          expect({ id: printed.id, fingerprint: printed.fingerprint }).toEqual({
            id: fixture.nodes[name].id,
            fingerprint: fixture.nodes[name].fingerprint,
          })
          const text = await run(name, [])
          expect(text.stdout.join('\n')).toContain(fixture.nodes[name].fingerprint)
        }),
      )
    })

    it('--history shows every message of each dir in order, under the names they were sent with, and shows nothing again', async () => {
      await Promise.all(
        NAMES.map(async (name) => {
          const expected = fixture.nodes[name].history
          const proc = node(name, copyOf(name), ['--json', '--history', String(expected.length + 10)])
          await waitUntil(
            () => jsonEvents(proc, 'history').length >= expected.length,
            WAIT_CEILING_MS,
            `${name}'s ${expected.length} history lines`,
          )
          expect(await stop(proc)).toBe(0)
          const ids = Object.fromEntries(NAMES.map((n) => [n, fixture.nodes[n].id]))
          expect(
            jsonEvents(proc, 'history').map((e) => ({ direction: e.direction, from: e.from, body: e.body })),
          ).toEqual(expected)
          for (const entry of jsonEvents(proc, 'history')) expect(entry.fromId).toBe(ids[String(entry.from)])
          // Every line was marked shown by the release: a lost display mark would show it again, as a message
          // printed at start-up, before the history.
          expect(jsonEvents(proc, 'message')).toEqual([])
          expectNoFormatTrouble(proc)
        }),
      )
    })

    it('in text mode, says that the outbox of the earlier run waits, and marks own lines as such', async () => {
      const expected = fixture.nodes.alice.history
      const alice = node('alice', copyOf('alice'), ['--history', String(expected.length)])
      await alice.waitFor('stderr', /message\(s\) of history above; new session starts here/)
      expect(await stop(alice)).toBe(0)
      expect(alice.stderr).toContain(
        `parley: ${fixture.outbox.bodies.length} message(s) from an earlier run wait in the outbox; they go to the room, to whichever peer this node links with first`,
      )
      expect(alice.stdout).toEqual(
        expected.map((e) => `<${e.from}${e.direction === 'out' ? ' (you)' : ''}> ${e.body}`),
      )
      expectNoFormatTrouble(alice, false)
    })

    it('still holds a different key at an address the release pinned to a peer (known_peers)', async () => {
      const pinned = [
        { name: 'bob', address: fixture.addresses.alice },
        { name: 'carol', address: fixture.addresses.bob },
      ] as const
      await Promise.all(
        pinned.map(async ({ name, address }) => {
          const dir = copyOf(name)
          const knownBefore = readFileSync(join(dir, 'known_peers'), 'utf8')
          expect(knownBefore).toContain(address)
          const proc = node(name, dir, ['--json'])
          const port = Number(/:(\d+)$/.exec(await listening(proc))![1])

          // A stranger announcing the pinned address is refused: it is not the key the release recorded there.
          const impostor = await Adversary.dial(`127.0.0.1:${port}`, { name: 'alice', listen: address })
          defer(() => impostor.close())
          impostor.hello()
          await impostor.closed
          const refusal = await proc.waitFor('stdout', /"type":"error".*"code":"UNTRUSTED"/)
          expect(refusal).toContain(address)
          // A stranger of the same name announcing no address is let in: the pin is what refused the first.
          const stranger = await Adversary.dial(`127.0.0.1:${port}`, { name: 'alice' })
          defer(() => stranger.close())
          await stranger.join()
          await proc.waitFor('stdout', new RegExp(`"type":"connected".*"peerId":"${stranger.id}"`))
          expect(jsonEvents(proc, 'connected').map((e) => e.peerId)).toEqual([stranger.id])
          expect(await stop(proc)).toBe(0)
          expect(readFileSync(join(dir, 'known_peers'), 'utf8')).toBe(knownBefore)
          expect(jsonEvents(proc, 'error')).toHaveLength(1)
        }),
      )
    })

    it("delivers alice's unacknowledged outbox exactly once after the upgrade, to bob and through him to carol, and shows nothing old again", async () => {
      const bob = node('bob', copyOf('bob'), ['--json'])
      const bobAddress = await listening(bob)
      // New ports: nobody dials an address the release pinned, so the pins stay as they were.
      const carol = node('carol', copyOf('carol'), ['--json', '--peer', bobAddress])
      await carol.waitFor('stdout', /"type":"connected"/)
      const aliceDir = copyOf('alice')
      const alice = node('alice', aliceDir, ['--json', '--peer', bobAddress])

      const outbox = fixture.outbox.bodies
      const messageLines = fixture.outbox.lines ?? outbox.map(() => 1)
      for (const body of outbox) await Promise.all([shows(bob, body), shows(carol, body)])
      await waitUntil(
        () => jsonEvents(alice, 'delivered').length >= messageLines.length,
        WAIT_CEILING_MS,
        'bob to acknowledge the outbox',
      )
      // One new line from each, in turn, once the others showed the one before: anything old that came
      // again would come before these on the same links.
      const after = {
        alice: 'alice, after the upgrade',
        bob: 'bob, after the upgrade',
        carol: 'carol, after',
      }
      const procs = { alice, bob, carol }
      for (const who of ['bob', 'carol', 'alice'] as const) {
        procs[who].send(after[who])
        await Promise.all(NAMES.filter((n) => n !== who).map((n) => shows(procs[n], after[who])))
      }
      alice.end()
      expect(await alice.exited).toBe(0)
      expect(await stop(bob)).toBe(0)
      expect(await stop(carol)).toBe(0)
      await finished(alice)

      const shown = (proc: Proc) => jsonEvents(proc, 'message').map((e) => `${e.from}: ${e.body}`)
      expect(shown(bob)).toEqual([
        ...outbox.map((b) => `alice: ${b}`),
        `carol: ${after.carol}`,
        `alice: ${after.alice}`,
      ])
      expect(shown(carol)).toEqual([
        ...outbox.map((b) => `alice: ${b}`),
        `bob: ${after.bob}`,
        `alice: ${after.alice}`,
      ])
      expect(shown(alice)).toEqual([`bob: ${after.bob}`, `carol: ${after.carol}`])
      for (const proc of [alice, bob, carol]) {
        expect(jsonEvents(proc, 'message').filter((e) => e.replayed)).toEqual([])
        expectNoFormatTrouble(proc)
      }
      // Alice's numbering goes on from the release's: her outbox holds her last messages, and the new one
      // follows. Lines piped together are one message: each of its lines is shown under its seq.
      const messages = messageLines.length
      const ownSent =
        fixture.nodes.alice.history.filter((e) => e.direction === 'out').length - (outbox.length - messages)
      const fromAlice = jsonEvents(bob, 'message').filter((e) => e.from === 'alice')
      expect(new Set(fromAlice.map((e) => e.fromId))).toEqual(new Set([fixture.nodes.alice.id]))
      const first = ownSent - messages + 1
      expect(fromAlice.map((e) => e.seq)).toEqual([
        ...messageLines.flatMap((lines, i) => Array.from({ length: lines }, () => first + i)),
        first + messages,
      ])
      const seqs = Array.from({ length: messages + 1 }, (_, i) => first + i)
      // Each outbox message was acknowledged by bob once.
      const delivered = jsonEvents(alice, 'delivered').map((e) => [e.seq, e.to])
      expect(delivered).toEqual(seqs.map((seq) => [seq, 'bob']))

      // Nothing waits in alice's outbox any more: with no input and nothing to resend, she only receives.
      const again = node('alice', aliceDir)
      again.end()
      // With nothing to deliver and no input, a node is a receiver: it says so and runs until stopped.
      await again.waitFor('stderr', /no input to send: receiving until stopped/)
      expect(await stop(again)).toBe(0)
      await finished(again)
      expect(again.stderr.filter((line) => /outbox|waiting/.test(line))).toEqual([])
    })
  },
)
