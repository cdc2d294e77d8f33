/**
 * A newcomer caught up on history written under names its member gave up, end to end with the built
 * binaries: each line under the name it was written with, told apart by the key's fingerprint, and no
 * rename warning for what happened before it joined.
 */
import { join } from 'node:path'
import { listeningPort, tempDir, useBuiltParley } from '@parley/testkit'
import { expect, it, vi } from 'vitest'

const { start } = useBuiltParley()
vi.setConfig({ testTimeout: 60_000 })

it('shows a member’s history under its former names without telling them as renames now', async () => {
  const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', join(tempDir(), 'bob')])
  const port = await listeningPort(bob)
  const carol = start(['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'carol'])
  await bob.waitFor('stderr', /connected to carol /)
  carol.send('one')
  await bob.waitFor('stdout', /> one$/)
  carol.send('/nick caroline')
  carol.send('two')
  await bob.waitFor('stdout', /> two$/)
  carol.send('/nick cary')
  carol.send('three')
  await bob.waitFor('stdout', /> three$/)

  // Every process here reads one clock: what was sent before alice started is her catch-up.
  const alice = start(
    ['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice', '--data-dir', tempDir()],
    { PARLEY_CLOCK_SLACK_MS: '0' },
  )
  const fp = /cary \[([a-z2-7]{4}-[a-z2-7]{4})\] is in the room \(through another member\)/
  const short = fp.exec(await alice.waitFor('stderr', fp))![1]!
  await alice.waitFor('stdout', /> three$/)
  // Whatever alice was told about carol's names came before her last line; /peers answers after it.
  alice.send('/peers')
  await alice.waitFor('stderr', new RegExp(`parley: cary~${short} relay`))
  expect(alice.stdout.filter((l) => / (one|two|three)$/.test(l))).toEqual([
    `<carol~${short}> one`,
    `<caroline~${short}> two`,
    `<cary~${short}> three`,
  ])
  expect(alice.stderr.filter((l) => /calls itself/.test(l))).toEqual([])
})
