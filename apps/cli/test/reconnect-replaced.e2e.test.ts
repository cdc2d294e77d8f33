/**
 * A peer killed with kill -9 and started again before its old link is seen dead (its host vanished
 * without a reset, as over the DHT or behind a NAT): the other end's new `connected` line says the new
 * link replaced the old one, since no `disconnected` line comes before it.
 */
import { freePort, startFaultProxy, tempDir, useBuiltParley } from '@parley/testkit'
import { expect, it } from 'vitest'

const { start, closeAfter } = useBuiltParley()

it("says a restarted peer's new link replaced its old one, with no bare second connected line", async () => {
  const bobPort = await freePort()
  const bob = start(['--listen', `127.0.0.1:${bobPort}`, '--name', 'bob', '--data-dir', tempDir()])
  await bob.waitFor('stderr', /listening on/)
  const toBob = await startFaultProxy({ host: '127.0.0.1', port: bobPort })
  closeAfter(toBob)
  const alice = [
    ...['--listen', `127.0.0.1:${await freePort()}`, '--peer', `127.0.0.1:${toBob.port}`],
    ...['--name', 'alice', '--data-dir', tempDir()],
  ]
  const first = start(alice)
  await bob.waitFor('stderr', /connected to alice/)
  toBob.silentClose(true)
  first.kill('SIGKILL')
  await first.exited

  const second = start(alice)
  await second.waitFor('stderr', /connected to bob/)
  await bob.waitFor(
    'stderr',
    /^parley: connected to alice \[[^\]]+\] at 127\.0\.0\.1:\d+ \(direct TCP\) again: it restarted, and its new link replaced the old one before that was seen to close$/,
  )
  const aliceLines = bob.stderr.filter((line) => /alice/.test(line))
  expect(
    aliceLines.filter((line) => /^parley: connected to alice/.test(line) && !/ again: /.test(line)),
  ).toHaveLength(1)
  expect(aliceLines.filter((line) => /disconnected from alice/.test(line))).toEqual([])
})
