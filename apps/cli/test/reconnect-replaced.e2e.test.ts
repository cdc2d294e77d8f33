/**
 * A peer killed with kill -9 and started again before its old link is seen dead (over the DHT, whose UDP
 * brings no reset, or a TCP host that vanished without one): the other end's new `connected` line says
 * the new link replaced the old one, since no `disconnected` line comes before it.
 */
import {
  crash,
  freePort,
  type Proc,
  startFaultProxy,
  tempDir,
  useBuiltParley,
  useLoopbackBootstrap,
} from '@parley/testkit'
import { expect, it } from 'vitest'

const { start, closeAfter } = useBuiltParley()
const loopbackDht = useLoopbackBootstrap()
// The old link is not dropped for silence while the test runs, however slow a restart is under load.
const PATIENT = ['--dead-after', '600']

const REPLACED = / again: it restarted, and its new link replaced the old one before that was seen to close$/

/** The lines `proc` printed about alice: one bare `connected`, then the reconnect, and no `disconnected`. */
function expectOneReconnect(proc: Proc): void {
  const lines = proc.stderr.filter((line) => /alice/.test(line))
  expect(
    lines.filter((line) => /^parley: connected to alice/.test(line) && !REPLACED.test(line)),
  ).toHaveLength(1)
  expect(lines.filter((line) => REPLACED.test(line))).toHaveLength(1)
  expect(lines.filter((line) => /disconnected from alice/.test(line))).toEqual([])
}

it("says a restarted peer's new TCP link replaced its old one, with no bare second connected line", async () => {
  const bobPort = await freePort()
  const bob = start([
    '--listen',
    `127.0.0.1:${bobPort}`,
    '--name',
    'bob',
    '--data-dir',
    tempDir(),
    ...PATIENT,
  ])
  await bob.waitFor('stderr', /listening on/)
  // Alice's host vanishes at the kill: her link's close never reaches bob.
  const toBob = await startFaultProxy({ host: '127.0.0.1', port: bobPort })
  closeAfter(toBob)
  toBob.silentClose(true)
  const alice = [
    ...['--listen', `127.0.0.1:${await freePort()}`, '--peer', `127.0.0.1:${toBob.port}`],
    ...['--name', 'alice', '--data-dir', tempDir()],
  ]
  const first = start(alice)
  await bob.waitFor('stderr', /connected to alice/)
  await crash(first)

  const second = start(alice)
  await second.waitFor('stderr', /connected to bob/)
  await bob.waitFor(
    'stderr',
    /^parley: connected to alice \[[^\]]+\] at 127\.0\.0\.1:\d+ \(direct TCP\) again: it restarted, and its new link replaced the old one before that was seen to close$/,
  )
  expectOneReconnect(bob)
})

it("says a restarted peer's new DHT link replaced its old one, with no bare second connected line", async () => {
  const dht = ['--bootstrap', loopbackDht.address()]
  const bobDir = tempDir()
  const invite = start(['invite', '--dht', '--data-dir', bobDir])
  expect(await invite.exited).toBe(0)
  const bobKey = invite.stdout[0]!.slice('parley://'.length)
  const bob = start([...dht, '--dht', '--data-dir', bobDir, '--name', 'bob', ...PATIENT])
  await bob.waitFor('stderr', /listening on the DHT/)
  const alice = [...dht, '--peer', bobKey, '--name', 'alice', '--data-dir', tempDir()]
  const first = start(alice)
  await bob.waitFor('stderr', /connected to alice/)
  await crash(first)

  const second = start(alice)
  await second.waitFor('stderr', /connected to bob/)
  await bob.waitFor('stderr', /^parley: connected to alice \[[^\]]+\] over the DHT .* again: it restarted, /)
  expectOneReconnect(bob)
})
