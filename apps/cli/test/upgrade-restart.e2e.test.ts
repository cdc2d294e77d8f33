/**
 * A journal of a release before 1c7184e records a neighbour's restart (a new epoch) without `after`, the
 * time of the newest message of its old numbering. `fixtures/restart-e8e1ded` was made by e8e1ded with
 * `node tooling/scripts/make-restart-fixture.mjs`: alice said one line to bob and carol, restarted with her
 * key and no journal, linked to bob and said nothing; bob's journal ends on that reset.
 */
import { chmodSync, cpSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { finished, type JsonEvent, jsonEvents, type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { expect, it } from 'vitest'

const { start, defer } = useBuiltParley()

const FIXTURE = fileURLToPath(new URL('./fixtures/restart-e8e1ded/', import.meta.url))
const fixture = JSON.parse(readFileSync(join(FIXTURE, 'fixture.json'), 'utf8')) as {
  alice: { id: string; before: { body: string; ts: number } }
  modes: Record<string, string>
}

/** A private copy of the fixture's dirs, with the modes the release created (git keeps none). */
function copyOfFixture(): string {
  const root = tempDir('parley-upgrade-')
  defer(() => rmSync(root, { recursive: true, force: true }))
  for (const name of ['alice', 'bob']) cpSync(join(FIXTURE, name), join(root, name), { recursive: true })
  for (const [path, mode] of Object.entries(fixture.modes))
    chmodSync(join(root, path), Number.parseInt(mode, 8))
  return root
}

function node(name: string, dir: string, extra: string[] = []): Proc {
  return start(['--listen', '127.0.0.1:0', '--name', name, '--data-dir', dir, '--json', ...extra])
}

async function listening(proc: Proc): Promise<string> {
  const line = await proc.waitFor('stdout', /"type":"listening"/)
  return String((JSON.parse(line) as JsonEvent).address)
}

it("takes a restarted member's new messages through a relay when an earlier release recorded the restart", async () => {
  const root = copyOfFixture()
  const carolRoot = tempDir('parley-upgrade-')
  defer(() => rmSync(carolRoot, { recursive: true, force: true }))
  const carol = node('carol', join(carolRoot, 'carol'))
  const carolAddress = await listening(carol)
  // Bob and alice each link to carol only: alice's messages reach bob through her.
  const bob = node('bob', join(root, 'bob'), ['--peer', carolAddress])
  const alice = node('alice', join(root, 'alice'), ['--peer', carolAddress])
  await Promise.all([bob, alice].map((proc) => proc.waitFor('stdout', /"type":"connected"/)))

  alice.send('alice, after the upgrade')
  await carol.waitFor('stdout', /"type":"message".*alice, after the upgrade/)
  carol.send('carol, after alice')
  // Carol's own line may reach bob before the one she relays (her pump serves her own first): both are
  // waited for. Refused as it was before the fix, alice's never comes, and this wait fails.
  await bob.waitFor('stdout', /"type":"message".*carol, after alice/)
  await bob.waitFor('stdout', /"type":"message".*alice, after the upgrade/, 30_000)

  const shown = jsonEvents(bob, 'message').map((e) => `${e.from}: ${e.body}`)
  expect(shown.sort()).toEqual(['alice: alice, after the upgrade', 'carol: carol, after alice'])
  const hers = jsonEvents(bob, 'message').find((e) => e.body === 'alice, after the upgrade')
  expect(hers?.fromId).toBe(fixture.alice.id)
  expect(Number(hers?.ts)).toBeGreaterThan(fixture.alice.before.ts)
  for (const proc of [alice, bob, carol]) {
    proc.kill('SIGTERM')
    await finished(proc)
    expect(proc.child.exitCode).toBe(0)
  }
})
