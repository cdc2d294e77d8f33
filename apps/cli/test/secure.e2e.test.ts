/**
 * Issue 4 ("Private by default") end to end: real `parley` processes on loopback, with their own data
 * dirs, talking through the secure transport (and, for the wire tests, through the fault proxy).
 */
import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, listeningPort, type Proc, startFaultProxy, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'
import { lineStoppedAt, PAST_THE_OUTBOX, pipeLines } from './resume.js'

const FINGERPRINT = /^([a-z2-7]{4}-){13}[a-z2-7]{4}$/

const { start, defer } = useBuiltParley()

/** A data dir that does not exist yet, so the first run has to create it. */
const newDataDir = () => join(tempDir(), 'data')

/** Runs `parley id --json` on `dataDir` and returns the node id (hex) and full fingerprint. */
async function identityOf(dataDir: string): Promise<{ id: string; fingerprint: string }> {
  const proc = start(['id', '--json', '--data-dir', dataDir])
  expect(await proc.exited).toBe(0)
  const parsed = JSON.parse(proc.stdout.at(-1) ?? '') as { id: string; fingerprint: string }
  expect(parsed.fingerprint).toMatch(FINGERPRINT)
  return parsed
}

const json = (line: string) => JSON.parse(line) as Record<string, unknown>
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const count = (lines: string[], text: string) => lines.filter((l) => l.includes(text)).length
const isRunning = (proc: Proc) => proc.child.exitCode === null && proc.child.signalCode === null

describe('identity: parley id and the key file', () => {
  it('creates the key on first use, prints the fingerprint last, and prints the same line again', async () => {
    const dataDir = newDataDir()
    const first = start(['id', '--data-dir', dataDir])
    expect(await first.exited).toBe(0)
    const line = first.stdout.at(-1) ?? ''
    expect(line).toMatch(FINGERPRINT)
    const keyFile = join(dataDir, 'identity.key')
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)

    const second = start(['id', '--data-dir', dataDir])
    expect(await second.exited).toBe(0)
    expect(second.stdout.at(-1)).toBe(line)
    // A different data dir is a different identity.
    const other = start(['id', '--data-dir', newDataDir()])
    expect(await other.exited).toBe(0)
    expect(other.stdout.at(-1)).not.toBe(line)
  })

  it('refuses a key file others can read, for id and for chat, with one line naming the file and chmod 600 (exit 6)', async () => {
    const dataDir = newDataDir()
    await identityOf(dataDir)
    const keyFile = join(dataDir, 'identity.key')
    chmodSync(keyFile, 0o644)
    for (const args of [
      ['id', '--data-dir', dataDir],
      ['--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    ]) {
      const proc = start(args)
      expect(await proc.exited).toBe(6)
      expect(proc.stderr).toHaveLength(1)
      expect(proc.stderr[0]).toMatch(/^parley: /)
      expect(proc.stderr[0]).toContain(keyFile)
      expect(proc.stderr[0]).toContain(`chmod 600 ${keyFile}`)
      expect(proc.stdout).toEqual([])
    }
    // Group-readable alone is refused as well, and fixing the mode is enough.
    chmodSync(keyFile, 0o640)
    const group = start(['id', '--data-dir', dataDir])
    expect(await group.exited).toBe(6)
    chmodSync(keyFile, 0o600)
    const fixed = start(['id', '--data-dir', dataDir])
    expect(await fixed.exited).toBe(0)
  })

  it('refuses to make a new key where the old one was lost, naming the identity it had (exit 6)', async () => {
    const dataDir = newDataDir()
    const before = await identityOf(dataDir)
    const keyFile = join(dataDir, 'identity.key')
    rmSync(keyFile)
    for (const args of [
      ['id', '--data-dir', dataDir],
      ['--data-dir', dataDir, '--listen', '127.0.0.1:0'],
    ]) {
      const proc = start(args)
      expect(await proc.exited).toBe(6)
      expect(proc.stderr).toHaveLength(1)
      expect(proc.stderr[0]).toContain(`parley: identity key ${keyFile} is missing`)
      expect(proc.stderr[0]).toContain(before.fingerprint)
      expect(proc.stderr[0]).toContain('start over with a new --data-dir')
      expect(proc.stdout).toEqual([])
      expect(existsSync(keyFile)).toBe(false)
    }
  })
})

describe('an allow file that lists nobody', () => {
  it('is refused at start (exit 6): it would refuse every peer; with keys from --allow beside it, it is not', async () => {
    const file = join(tempDir(), 'allowed')
    writeFileSync(file, '# the team\n\n')
    const refused = start(['--allow-file', file, '--listen', '127.0.0.1:0', '--data-dir', newDataDir()])
    expect(await refused.exited).toBe(6)
    expect(refused.stderr).toEqual([
      `parley: allow file ${file} lists no keys, so every peer would be refused; add the keys to accept (one full fingerprint or hex key per line), or drop --allow-file`,
    ])
    const friend = (await identityOf(newDataDir())).fingerprint
    const both = start([
      '--allow',
      friend,
      '--allow-file',
      file,
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      newDataDir(),
    ])
    await both.waitFor('stderr', /listening on/)
  })
})

/**
 * Bob on a port of his own and alice dialing him until they are linked; then bob is gone (killed), so
 * another key can take his address. Alice keeps running.
 */
async function aliceKnewBob(bobDir: string, aliceDir: string) {
  const port = await freePort()
  const bob = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', bobDir])
  await bob.waitFor('stderr', /listening on/)
  const alice = start([
    ...['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', aliceDir],
    ...['--peer', `127.0.0.1:${port}`],
  ])
  const alicePort = await listeningPort(alice)
  await alice.waitFor('stderr', /connected to bob/)
  bob.kill()
  await bob.exited
  return { alice, alicePort, port }
}

describe('secure links between two real nodes', () => {
  it('completes the handshake and keeps each identity across restarts on the same data dir', async () => {
    const [bobDir, aliceDir] = [newDataDir(), newDataDir()]
    const bobId = (await identityOf(bobDir)).id
    const aliceId = (await identityOf(aliceDir)).id
    const port = await freePort()
    const bobArgs = ['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', bobDir, '--json']
    const aliceArgs = [
      ...['--listen', '127.0.0.1:0', '--peer', `127.0.0.1:${port}`, '--name', 'alice'],
      ...['--data-dir', aliceDir, '--json'],
    ]
    let bob = start(bobArgs)
    await bob.waitFor('stdout', /"type":"listening"/)
    const alice = start(aliceArgs)
    expect(json(await alice.waitFor('stdout', /"type":"connected"/))).toMatchObject({
      peer: 'bob',
      peerId: bobId,
    })
    expect(json(await bob.waitFor('stdout', /"type":"connected"/))).toMatchObject({
      peer: 'alice',
      peerId: aliceId,
    })
    alice.send('before restart')
    expect(json(await bob.waitFor('stdout', /"type":"message"/))).toMatchObject({
      body: 'before restart',
      fromId: aliceId,
    })

    bob.kill()
    expect(await bob.exited).toBe(0)
    await alice.waitFor('stdout', /"type":"disconnected"/)
    bob = start(bobArgs)
    const connectedEvents = () => alice.stdout.map(json).filter((e) => e.type === 'connected')
    const again = connectedEvents().length
    await waitUntil(() => connectedEvents().length > again)
    const reconnected = connectedEvents().at(-1)
    // Same data dir, same key: known_peers accepts it and the peer id is unchanged.
    expect(reconnected).toMatchObject({ peer: 'bob', peerId: bobId })
    expect(json(await bob.waitFor('stdout', /"type":"connected"/))).toMatchObject({ peerId: aliceId })
    alice.send('after restart')
    expect(json(await bob.waitFor('stdout', /after restart/))).toMatchObject({ fromId: aliceId })
    // No refusal or trust warning on the way (bob being down for a moment is not one).
    const problems = (proc: Proc) =>
      proc.stdout
        .map(json)
        .filter((e) => e.type === 'error' || (e.type === 'dial-error' && e.code !== 'CONNECTION_REFUSED'))
    expect(problems(alice)).toEqual([])
    expect(problems(bob)).toEqual([])
    expect(alice.stderr).toEqual([])

    // And the other way round: alice restarts, bob sees the same id.
    alice.kill()
    await alice.exited
    await bob.waitFor('stdout', /"type":"disconnected"/)
    const bobConnected = () => bob.stdout.map(json).filter((e) => e.type === 'connected')
    const before = bobConnected().length
    const aliceAgain = start(aliceArgs)
    await waitUntil(() => bobConnected().length > before)
    expect(bobConnected().at(-1)).toMatchObject({ peer: 'alice', peerId: aliceId })
    expect(json(await aliceAgain.waitFor('stdout', /"type":"connected"/))).toMatchObject({ peerId: bobId })
  })

  it('refuses a peer whose key differs from --peer-key, loudly with both fingerprints, and keeps running', async () => {
    const [bobDir, malloryDir] = [newDataDir(), newDataDir()]
    const bobFp = (await identityOf(bobDir)).fingerprint
    const malloryFp = (await identityOf(malloryDir)).fingerprint
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', bobDir])
    const port = await listeningPort(bob)
    const alice = start([
      ...['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', newDataDir()],
      ...['--peer', `127.0.0.1:${port}`, '--peer-key', malloryFp],
    ])
    const alicePort = await listeningPort(alice)
    alice.send('must not reach bob')
    const warning = await alice.waitFor('stderr', /pinned/)
    expect(warning).toContain(`127.0.0.1:${port}`)
    expect(warning).toContain(malloryFp)
    expect(warning).toContain(bobFp)
    expect(isRunning(alice)).toBe(true)
    // Still serving: a good peer can reach alice and chat.
    const carol = start(['--listen', '127.0.0.1:0', '--name', 'carol', '--peer', `127.0.0.1:${alicePort}`])
    await alice.waitFor('stderr', /connected to carol/)
    carol.send('hello alice')
    expect(await alice.waitFor('stdout', /hello alice/)).toBe('<carol> hello alice')
    // Meanwhile, and after the refusal, bob was never linked to alice and got nothing.
    expect(bob.stdout).toEqual([])
    expect(bob.stderr.join('\n')).not.toMatch(/connected to alice/)
    expect(alice.stderr.join('\n')).not.toMatch(/connected to bob/)
  })

  /**
   * bob listening, and alice dialing only him with another node's key pinned, so that she refuses him; her
   * `--wait` is far longer than a test may take, so that her run ends at the refusal or not at all.
   */
  async function aliceRefusingBob(extra: string[] = []) {
    const [bobDir, malloryDir, aliceDir] = [newDataDir(), newDataDir(), newDataDir()]
    const malloryFp = (await identityOf(malloryDir)).fingerprint
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', bobDir])
    const port = await listeningPort(bob)
    const alice = start([
      ...['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', aliceDir, '--wait', '3600', ...extra],
      ...['--peer', `127.0.0.1:${port}`, '--peer-key', malloryFp],
    ])
    const trustLine = `parley: 127.0.0.1:${port} proved a key other than the one trusted for it (see above): the next run is refused the same way unless the peer's key or your pin changes`
    return { bob, alice, trustLine }
  }

  it('ends a one-shot send whose only peer proved another key than the pinned one with exit 6 at once, the line kept', async () => {
    const { bob, alice, trustLine } = await aliceRefusingBob()
    alice.send('must not reach bob')
    alice.end()
    expect(await alice.exited).toBe(6)
    expect(alice.stderr.at(-1)).toBe(trustLine)
    expect(alice.stderr.join('\n')).toMatch(/1 message\(s\) not acknowledged yet are safe in the outbox/)
    expect(bob.stdout).toEqual([])
  })

  it('gives up a piped file paused at a full outbox at once when its only peer refused on its key: exit 6', async () => {
    const { bob, alice, trustLine } = await aliceRefusingBob(['--json'])
    pipeLines(alice, PAST_THE_OUTBOX)
    expect(await alice.exited).toBe(6)
    const said = alice.stderr.join('\n')
    const taken = lineStoppedAt(said, /stopped reading stdin after line ([\d,]+)/, PAST_THE_OUTBOX)
    expect(said).toContain('every peer dialed refused on its key')
    expect(said).not.toMatch(/--wait|no acknowledgement/)
    const events = alice.stdout.map(json)
    expect(events.filter((e) => e.type === 'input-stopped')).toEqual([
      { type: 'input-stopped', why: 'refused', linesRead: taken, pending: taken },
    ])
    expect(alice.stderr.at(-1)).toBe(trustLine)
    expect(bob.stdout).toEqual([])
  })

  it('refuses a changed key at a known address, saying how to accept the new key', async () => {
    const [bobDir, newBobDir, aliceDir] = [newDataDir(), newDataDir(), newDataDir()]
    const oldFp = (await identityOf(bobDir)).fingerprint
    const newFp = (await identityOf(newBobDir)).fingerprint
    const port = await freePort()
    const bob = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', bobDir])
    await bob.waitFor('stderr', /listening on/)
    const alice = start([
      ...['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', aliceDir],
      ...['--peer', `127.0.0.1:${port}`],
    ])
    await alice.waitFor('stderr', /connected to bob/)
    bob.kill()
    await bob.exited
    await alice.waitFor('stderr', /disconnected from bob/)
    alice.send('only for the real bob')

    const impostor = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', newBobDir])
    await alice.waitFor('stderr', /CHANGED/)
    // The warning spans several lines: wait for its last one, the command that accepts the new key.
    await alice.waitFor('stderr', new RegExp(`--peer-key ${newFp}`))
    const text = alice.stderr.join('\n')
    expect(text).toContain(`127.0.0.1:${port}`)
    expect(text).toContain(oldFp)
    expect(text).toContain(newFp)
    expect(text).toContain(join(aliceDir, 'known_peers'))
    expect(text).toContain(`--peer-key ${newFp}`)
    // Each line of the banner is a line of its own, not one line full of ^J.
    expect(alice.stderr).toContain(`parley: @  WARNING: THE KEY OF PEER 127.0.0.1:${port} HAS CHANGED!`)
    expect(text).not.toContain('^J')
    expect(count(alice.stderr, 'connected to bob')).toBe(1)
    await sleep(1_000)
    expect(impostor.stdout).toEqual([])
    expect(isRunning(alice)).toBe(true)
  })
})

describe('trust decisions a user acts on', () => {
  it('pins each --peer-key to the --peer in the same position', async () => {
    const [bobDir, carolDir] = [newDataDir(), newDataDir()]
    const bobFp = (await identityOf(bobDir)).fingerprint
    const carolFp = (await identityOf(carolDir)).fingerprint
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--data-dir', bobDir])
    const carol = start(['--listen', '127.0.0.1:0', '--name', 'carol', '--data-dir', carolDir])
    const peers = [
      '--peer',
      `127.0.0.1:${await listeningPort(bob)}`,
      '--peer',
      `127.0.0.1:${await listeningPort(carol)}`,
    ]
    const swapped = start(['--listen', '127.0.0.1:0', ...peers, '--peer-key', carolFp, '--peer-key', bobFp])
    await waitUntil(() => count(swapped.stderr, 'pinned') >= 2)
    expect(swapped.stderr.join('\n')).not.toMatch(/connected to/)
    const right = start(['--listen', '127.0.0.1:0', ...peers, '--peer-key', bobFp, '--peer-key', carolFp])
    await right.waitFor('stderr', /connected to bob/)
    await right.waitFor('stderr', /connected to carol/)
    expect(right.stderr.join('\n')).not.toMatch(/pinned/)
  })

  it('accepts a changed key once the user follows the warning (--peer-key NEW), and remembers it', async () => {
    const [bobDir, newBobDir, aliceDir] = [newDataDir(), newDataDir(), newDataDir()]
    const newFp = (await identityOf(newBobDir)).fingerprint
    const port = await freePort()
    const aliceArgs = [
      '--listen',
      '127.0.0.1:0',
      '--name',
      'alice',
      '--data-dir',
      aliceDir,
      '--peer',
      `127.0.0.1:${port}`,
    ]
    const bob = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', bobDir])
    await bob.waitFor('stderr', /listening on/)
    let alice = start(aliceArgs)
    await alice.waitFor('stderr', /connected to bob/)
    alice.kill()
    await alice.exited
    bob.kill()
    await bob.exited

    start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', newBobDir])
    alice = start(aliceArgs)
    await alice.waitFor('stderr', /CHANGED/)
    alice.kill()
    await alice.exited
    // What the warning says to do:
    alice = start([...aliceArgs, '--peer-key', newFp])
    await alice.waitFor('stderr', /connected to bob/)
    alice.kill()
    await alice.exited
    // ...and from then on the new key is the known one.
    alice = start(aliceArgs)
    await alice.waitFor('stderr', /connected to bob/)
    expect(alice.stderr.join('\n')).not.toMatch(/CHANGED/)
  })

  it('refuses a changed key that dials in instead, announcing the known address as its own', async () => {
    const [bobDir, newBobDir, aliceDir] = [newDataDir(), newDataDir(), newDataDir()]
    const newShort = (await identityOf(newBobDir)).fingerprint.slice(0, 9)
    const { alice, alicePort, port } = await aliceKnewBob(bobDir, aliceDir)
    await alice.waitFor('stderr', /disconnected from bob/)
    alice.send('only for the real bob')
    // The new key takes bob's address and also dials alice, the way two parley users normally connect.
    const impostor = start([
      ...['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', newBobDir],
      ...['--peer', `127.0.0.1:${alicePort}`],
    ])
    await alice.waitFor('stderr', /CHANGED/)
    await sleep(1_500)
    expect.soft(alice.stderr.join('\n')).not.toContain(`connected to bob [${newShort}]`)
    expect(impostor.stdout.join('\n')).not.toContain('only for the real bob')
  })

  it('tells the changed key that dials in that it was refused, once, and a one-shot send of it exits 6', async () => {
    const [bobDir, newBobDir, aliceDir] = [newDataDir(), newDataDir(), newDataDir()]
    const { alice, alicePort, port } = await aliceKnewBob(bobDir, aliceDir)
    // A new key at bob's address sends alice a line: alice refuses it, and it is told why.
    const impostor = start([
      ...['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', newBobDir],
      ...['--peer', `127.0.0.1:${alicePort}`, '--wait', '30'],
    ])
    impostor.send('from the new key')
    impostor.end()
    expect(await impostor.exited).toBe(6)
    const said = impostor.stderr.join('\n')
    expect(said).toMatch(
      /it refused this node's key: peer announcing 127\.0\.0\.1:\d+: the key at this address has CHANGED/,
    )
    expect(said.match(/refused this node's key:/g)).toHaveLength(1)
    expect(said).not.toMatch(/reconnecting|@@@/)
    expect(said).toMatch(/1 message\(s\) not acknowledged yet are safe in the outbox/)
    await alice.waitFor('stderr', /CHANGED/)
    expect(alice.stdout.join('\n')).not.toContain('from the new key')
  })

  it('rejects a recorded session replayed at the node, showing nothing from it', async () => {
    const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob'])
    const bobPort = await listeningPort(bob)
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: bobPort })
    defer(() => proxy.close())
    const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice', '--peer', `127.0.0.1:${proxy.port}`])
    alice.send('recorded once')
    await bob.waitFor('stdout', /recorded once/)
    await sleep(200)
    alice.kill()
    await alice.exited
    await bob.waitFor('stderr', /disconnected from alice/)

    const { connect } = await import('node:net')
    const replay = connect(bobPort, '127.0.0.1')
    replay.on('error', () => undefined)
    await new Promise((r) => replay.once('connect', r))
    for (const chunk of proxy.recorded.toTarget) {
      replay.write(chunk)
      await sleep(20)
    }
    const error = await bob.waitFor('stderr', /was dropped/)
    expect(error).toMatch(/peer at 127\.0\.0\.1:\d+ was dropped: .*secure handshake/)
    replay.destroy()
    // Bob's status lines are in order ("connected" would have come before "was dropped"); a line shown
    // from the replay would be on stdout before one a new peer sends him now.
    const carol = start(['--listen', '127.0.0.1:0', '--name', 'carol', '--peer', `127.0.0.1:${bobPort}`])
    carol.send('after the replay')
    await bob.waitFor('stdout', /after the replay/)
    expect(bob.stdout).toEqual(['<alice> recorded once', '<carol> after the replay'])
    expect(count(bob.stderr, 'connected to alice')).toBe(1)
  })
})

describe('allowlists', () => {
  for (const via of ['--allow', '--allow-file'] as const) {
    it(`accepts a peer on ${via} and refuses one off it before reading anything, naming it on stderr`, async () => {
      const [aliceDir, malloryDir] = [newDataDir(), newDataDir()]
      const alice = await identityOf(aliceDir)
      const mallory = await identityOf(malloryDir)
      let trust: string[]
      if (via === '--allow') trust = ['--allow', alice.fingerprint]
      else {
        const file = join(tempDir(), 'friends.txt')
        writeFileSync(file, `# people I chat with\n${alice.fingerprint} alice\n`)
        trust = ['--allow-file', file]
      }
      const bob = start(['--listen', '127.0.0.1:0', '--name', 'bob', '--json', ...trust])
      const port = Number(
        String(json(await bob.waitFor('stdout', /"type":"listening"/)).address)
          .split(':')
          .pop(),
      )

      // Mallory's line is queued before the link exists, so it would go out with the first frames.
      const intruder = start([
        ...['--listen', '127.0.0.1:0', '--name', 'mallory', '--data-dir', malloryDir],
        ...['--peer', `127.0.0.1:${port}`],
      ])
      intruder.send('let me in')
      const refusal = await bob.waitFor('stderr', /refused/)
      expect(refusal).toContain(mallory.fingerprint)
      expect(refusal).toMatch(/allowlist/)
      expect(refusal).toMatch(/127\.0\.0\.1:\d+/)
      // The refused side is told too, and gives up rather than hammering.
      expect(await intruder.waitFor('stderr', /refused|does not trust/)).toMatch(/does not trust/)

      const friend = start([
        ...['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', aliceDir],
        ...['--peer', `127.0.0.1:${port}`],
      ])
      friend.send('hello bob')
      expect(json(await bob.waitFor('stdout', /"type":"message"/))).toMatchObject({
        from: 'alice',
        fromId: alice.id,
        body: 'hello bob',
      })
      const events = bob.stdout.map(json)
      expect(events.filter((e) => e.type === 'message')).toHaveLength(1)
      expect(events.some((e) => e.peerId === mallory.id || e.fromId === mallory.id)).toBe(false)
      expect(bob.stdout.join('\n')).not.toContain('let me in')
    })
  }

  it('a one-shot send the peer refuses exits 6, saying the peer refused this key, not that the peer proved a wrong one', async () => {
    const [bobDir, carolDir] = [newDataDir(), newDataDir()]
    const someoneElse = (await identityOf(newDataDir())).fingerprint
    const carol = await identityOf(carolDir)
    const port = await freePort()
    const bob = start([
      '--listen',
      `127.0.0.1:${port}`,
      '--data-dir',
      bobDir,
      '--recv-only',
      '--allow',
      someoneElse,
    ])
    await bob.waitFor('stderr', /listening on/)
    // Bob's key pinned on the way in (his invite): the key he proves is the one carol trusts.
    const invite = start(['invite', '--listen', `127.0.0.1:${port}`, '--data-dir', bobDir])
    expect(await invite.exited).toBe(0)
    const sender = start([
      ...['--join', invite.stdout[0] ?? '', '--listen', '127.0.0.1:0', '--name', 'carol'],
      ...['--data-dir', carolDir, '--wait', '5'],
    ])
    sender.send('hi')
    sender.end()
    expect(await sender.exited).toBe(6)
    const said = sender.stderr.join('\n')
    expect(said).toContain(`refused the link: it does not trust this node's key (${carol.fingerprint})`)
    expect(said).toContain(`gave up on 127.0.0.1:${port}: it does not trust this node's key (see above)`)
    expect(said).toContain(
      `127.0.0.1:${port} refused this node's key (see above): the next run is refused the same way until the peer's owner allows it (\`parley id\` prints it)`,
    )
    expect(said).not.toMatch(/proved a key other|its key is not trusted/)
  })
})

describe('invites', () => {
  it('parley invite prints a code; --join dials it with the key pinned and chats both ways', async () => {
    const [bobDir, malloryDir] = [newDataDir(), newDataDir()]
    const bobFp = (await identityOf(bobDir)).fingerprint
    const port = await freePort()
    const invite = start(['invite', '--listen', `127.0.0.1:${port}`, '--data-dir', bobDir])
    expect(await invite.exited).toBe(0)
    // The invite by address, then the key-only one for reaching bob over the DHT.
    expect(invite.stdout).toEqual([`parley://127.0.0.1:${port}/${bobFp}`, `parley://${bobFp}`])
    // A loopback address reaches this machine only, and the line says so, with what to give instead.
    expect(invite.stderr[0]).toBe(
      `parley: on this machine only (the address is loopback) your peer runs: parley --join parley://127.0.0.1:${port}/${bobFp}; for a peer on another machine, give the address it reaches you at: parley invite --listen ADDRESS:${port}`,
    )
    const code = invite.stdout[0] ?? ''

    const bob = start(['--listen', `127.0.0.1:${port}`, '--name', 'bob', '--data-dir', bobDir])
    await bob.waitFor('stderr', /listening on/)
    const alice = start(['--join', code, '--listen', '127.0.0.1:0', '--name', 'alice'])
    await alice.waitFor('stderr', /connected to bob/)
    alice.send('joined by invite')
    bob.send('welcome')
    expect(await bob.waitFor('stdout', /joined by invite/)).toBe('<alice> joined by invite')
    expect(await alice.waitFor('stdout', /welcome/)).toBe('<bob> welcome')

    // An invite made by another identity for bob's address: the key at that address does not match.
    const forged = start(['invite', '--listen', `127.0.0.1:${port}`, '--data-dir', malloryDir])
    expect(await forged.exited).toBe(0)
    const forgedCode = forged.stdout[0] ?? ''
    const malloryFp = forgedCode.split('/').at(-1) ?? ''
    expect(malloryFp).toMatch(FINGERPRINT)
    const victim = start(['--join', forgedCode, '--listen', '127.0.0.1:0', '--name', 'victim'])
    victim.send('for the invite maker only')
    const warning = await victim.waitFor('stderr', /pinned/)
    expect(warning).toContain('pinned with the invite given to --join')
    expect(warning).toContain(malloryFp)
    expect(warning).toContain(bobFp)
    await sleep(1_000)
    expect(bob.stdout.join('\n')).not.toContain('for the invite maker only')
    expect(victim.stderr.join('\n')).not.toMatch(/connected to bob/)
    expect(isRunning(victim)).toBe(true)
  })
})

describe('pins that contradict each other', () => {
  it('refuses an invite and a --peer-key that pin different keys for one address, in one line before dialing (exit 2)', async () => {
    const [bobDir, carolDir] = [newDataDir(), newDataDir()]
    const bobFp = (await identityOf(bobDir)).fingerprint
    const carolFp = (await identityOf(carolDir)).fingerprint
    const port = await freePort()
    const address = `127.0.0.1:${port}`
    const runs = [
      {
        args: ['--join', `parley://${address}/${bobFp}`, '--peer', address, '--peer-key', carolFp],
        line: `parley: --peer-key and --join pin different keys for ${address} (${carolFp} and ${bobFp}): a peer proves one key; keep only the one you trust (see --help)`,
      },
      {
        args: ['--peer', address, '--peer-key', bobFp, '--peer', address, '--peer-key', carolFp],
        line: `parley: two --peer-key pin different keys for ${address} (${bobFp} and ${carolFp}): a peer proves one key; keep only the one you trust (see --help)`,
      },
      {
        args: ['--join', `parley://${address}/${bobFp}`, '--join', `parley://${address}/${carolFp}`],
        line: `parley: two --join pin different keys for ${address} (${bobFp} and ${carolFp}): a peer proves one key; keep only the one you trust (see --help)`,
      },
    ]
    for (const { args, line } of runs) {
      const proc = start([...args, '--listen', '127.0.0.1:0'])
      expect(await proc.exited).toBe(2)
      expect(proc.stderr).toEqual([line])
    }
    // The same key pinned twice is no contradiction.
    const agreeing = start([
      '--join',
      `parley://${address}/${bobFp}`,
      '--peer',
      address,
      '--peer-key',
      bobFp,
      '--listen',
      '127.0.0.1:0',
    ])
    await agreeing.waitFor('stderr', /dialing/)
    expect(agreeing.stderr.join('\n')).not.toMatch(/pin different keys/)
  })
})

describe('an invite for port 0', () => {
  it('says that an invite needs the port parley listens on, and how to have a fixed one (exit 2)', async () => {
    for (const [listen, fixed] of [
      ['127.0.0.1:0', '127.0.0.1:4001'],
      ['[::1]:0', '[::1]:4001'],
    ] as const) {
      const invite = start(['invite', '--listen', listen, '--data-dir', newDataDir()])
      expect(await invite.exited).toBe(2)
      expect(invite.stdout).toEqual([])
      expect(invite.stderr.at(-1)).toBe(
        `parley: an invite needs the port your parley listens on, and ${listen} picks another one every run; listen on a fixed port (parley --listen ${fixed}, and parley invite --listen ${fixed}), or give the port a running parley printed in its "listening on" line`,
      )
    }
  })
})

describe('invites over IPv6 loopback', () => {
  it('makes and joins an invite for [::1]', async () => {
    const bobDir = newDataDir()
    const port = await freePort('::1')
    const invite = start(['invite', '--listen', `[::1]:${port}`, '--data-dir', bobDir])
    expect(await invite.exited).toBe(0)
    const code = invite.stdout[0] ?? ''
    expect(code).toMatch(new RegExp(`^parley://\\[::1\\]:${port}/([a-z2-7]{4}-){13}[a-z2-7]{4}$`))
    const bob = start(['--listen', `[::1]:${port}`, '--name', 'bob', '--data-dir', bobDir])
    await bob.waitFor('stderr', /listening on/)
    const alice = start(['--join', code, '--listen', '[::1]:0', '--name', 'alice'])
    alice.send('hello over ipv6')
    expect(await bob.waitFor('stdout', /ipv6/)).toBe('<alice> hello over ipv6')
  })
})

describe('on the wire', () => {
  /** Bob listens; alice dials him through the fault proxy. Both print --json events, acks included. */
  async function throughProxy(names = { alice: 'alice', bob: 'bob' }) {
    const bob = start(['--listen', '127.0.0.1:0', '--name', names.bob, '--json'])
    const bobAddress = String(json(await bob.waitFor('stdout', /"type":"listening"/)).address)
    const bobPort = Number(/:(\d+)$/.exec(bobAddress)?.[1])
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: bobPort })
    defer(() => proxy.close())
    const alice = start([
      '--listen',
      '127.0.0.1:0',
      '--name',
      names.alice,
      '--json',
      '--peer',
      `127.0.0.1:${proxy.port}`,
    ])
    await alice.waitFor('stdout', connectedTo(names.bob))
    await bob.waitFor('stdout', connectedTo(names.alice))
    return { alice, bob, proxy }
  }

  const connectedTo = (name: string) => new RegExp(`"type":"connected","peer":"${name}"`)
  /** The messages a --json process showed, as text mode shows them. */
  const shown = (proc: Proc) =>
    proc.stdout
      .map(json)
      .filter((event) => event.type === 'message')
      .map((event) => `<${event.from}> ${event.body}`)
  /** Waits for the message saying `body` and returns it as text mode shows it. */
  const message = async (proc: Proc, body: string) => {
    const event = json(await proc.waitFor('stdout', new RegExp(`"type":"message".*"body":"${body}"`)))
    return `<${event.from}> ${event.body}`
  }
  /** Waits until the peer acknowledged `sender`'s message number `seq`: its ack has crossed the proxy. */
  const acknowledged = (sender: Proc, seq: number) =>
    sender.waitFor('stdout', new RegExp(`"type":"delivered".*"seq":${seq},`))

  it('carries neither message bodies nor names in the clear', async () => {
    const { alice, bob, proxy } = await throughProxy({ alice: 'alice-name-xyz', bob: 'bob-name-xyz' })
    alice.send('supersecret-body-123')
    bob.send('supersecret-body-123 back')
    expect(await message(bob, 'supersecret-body-123')).toBe('<alice-name-xyz> supersecret-body-123')
    expect(await message(alice, 'supersecret-body-123 back')).toBe('<bob-name-xyz> supersecret-body-123 back')
    // The acks crossed too, so the recording holds both sides' whole exchange.
    await acknowledged(alice, 1)
    await acknowledged(bob, 1)
    const toBob = Buffer.concat(proxy.recorded.toTarget)
    const toAlice = Buffer.concat(proxy.recorded.fromTarget)
    // Enough bytes crossed both ways for the check to mean something.
    expect(toBob.length).toBeGreaterThan(100)
    expect(toAlice.length).toBeGreaterThan(100)
    for (const wire of [toBob, toAlice]) {
      for (const secret of ['supersecret', 'alice-name-xyz', 'bob-name-xyz', '"hello"', '"msg"']) {
        expect(wire.includes(Buffer.from(secret)), `"${secret}" seen on the wire`).toBe(false)
        expect(wire.includes(Buffer.from(secret, 'utf16le'))).toBe(false)
      }
    }
  })

  for (const direction of ['toTarget', 'fromTarget'] as const) {
    it(`closes the link on a flipped ciphertext bit (${direction}), reconnects, and delivers later lines exactly once`, async () => {
      const { alice, bob, proxy } = await throughProxy()
      alice.send('first')
      await message(bob, 'first')
      bob.send('reply')
      await message(alice, 'reply')
      // Both acks have crossed, so the next chunk in either direction is the one we send.
      await acknowledged(alice, 1)
      await acknowledged(bob, 1)

      const [sender, receiver] = direction === 'toTarget' ? [alice, bob] : [bob, alice]
      const [senderName, receiverName] = direction === 'toTarget' ? ['alice', 'bob'] : ['bob', 'alice']
      const acceptedBefore = proxy.accepted
      proxy.flipBitOnNextChunk(direction)
      sender.send('corrupted in flight')
      const dropped = json(
        await receiver.waitFor('stdout', new RegExp(`"type":"disconnected","peer":"${senderName}"`)),
      )
      expect(dropped.reason).toMatch(/127\.0\.0\.1:\d+/)
      expect(dropped.reason).toMatch(/dropped|decrypt|authenticat|corrupt|CRYPTO/i)
      await sender.waitFor('stdout', new RegExp(`"type":"disconnected","peer":"${receiverName}"`))
      // Alice redials through the proxy by herself.
      await waitUntil(() => proxy.accepted > acceptedBefore)
      const connections = (proc: Proc, name: string) =>
        proc.stdout.filter((line) => connectedTo(name).test(line)).length
      await waitUntil(() => connections(alice, 'bob') >= 2 && connections(bob, 'alice') >= 2)
      sender.send('after the flip')
      await message(receiver, 'after the flip')
      // A later line on the same link comes after any second copy of the earlier ones.
      sender.send('and the last')
      await message(receiver, 'and the last')
      // The corrupted record was never shown; its message was resent once over the new link.
      expect(shown(receiver)).toEqual([
        `<${senderName}> ${sender === alice ? 'first' : 'reply'}`,
        `<${senderName}> corrupted in flight`,
        `<${senderName}> after the flip`,
        `<${senderName}> and the last`,
      ])
    })
  }
})

describe('names that come back with another key', () => {
  it('flags a second "bob" with a different key, in the status line and in --json, never merging them', async () => {
    const [carolDir, bobADir, bobBDir] = [newDataDir(), newDataDir(), newDataDir()]
    const bobA = await identityOf(bobADir)
    const bobB = await identityOf(bobBDir)
    const port = await freePort()
    const carolArgs = ['--listen', `127.0.0.1:${port}`, '--name', 'carol', '--data-dir', carolDir]
    const bobArgs = (dir: string) => [
      '--listen',
      '127.0.0.1:0',
      '--name',
      'bob',
      '--data-dir',
      dir,
      '--peer',
      `127.0.0.1:${port}`,
    ]

    let carol = start(carolArgs)
    await carol.waitFor('stderr', /listening on/)
    const first = start(bobArgs(bobADir))
    first.send('i am the first bob')
    await carol.waitFor('stdout', /first bob/)
    first.end()
    expect(await first.exited).toBe(0)
    await carol.waitFor('stderr', /disconnected from bob/)

    const second = start(bobArgs(bobBDir))
    const line = await carol.waitFor('stderr', /WARNING/)
    expect(line).toMatch(/connected to bob/)
    expect(line).toContain(`"bob"`)
    second.send('i am the second bob')
    // Shown with the key's short fingerprint, not as the first bob.
    const shown = await carol.waitFor('stdout', /second bob/)
    expect(shown).not.toBe('<bob> i am the second bob')
    expect(shown).toMatch(/^<bob~[a-z2-7]{4}-[a-z2-7]{4}> i am the second bob$/)
    second.kill()
    await second.exited

    // Carol restarts on her data dir: the first bob coming back is flagged in --json too.
    carol.kill()
    await carol.exited
    carol = start([...carolArgs, '--json'])
    await carol.waitFor('stdout', /"type":"listening"/)
    const back = start(bobArgs(bobADir))
    const connected = json(await carol.waitFor('stdout', /"type":"connected"/))
    expect(connected).toMatchObject({ peer: 'bob', peerId: bobA.id, sameNameAs: [bobB.id] })
    back.kill()
  })

  it('flags a peer that takes your own name, at connect and when it renames to it, never showing it as you', async () => {
    const port = await freePort()
    const carol = start(['--listen', `127.0.0.1:${port}`, '--name', 'carol', '--data-dir', newDataDir()])
    await carol.waitFor('stderr', /listening on/)
    const peerArgs = (name: string) => [
      '--listen',
      '127.0.0.1:0',
      '--name',
      name,
      '--data-dir',
      newDataDir(),
      '--peer',
      `127.0.0.1:${port}`,
    ]

    const impostor = start(peerArgs('carol'))
    const warning = await carol.waitFor('stderr', /WARNING/)
    expect(warning).toMatch(/connected to carol \[/)
    expect(warning).toContain('its name "carol" reads as your own')
    impostor.send('i am carol, trust me')
    const shown = await carol.waitFor('stdout', /trust me/)
    expect(shown).toMatch(/^<carol~[a-z2-7]{4}-[a-z2-7]{4}> i am carol, trust me$/)
    impostor.kill()
    await impostor.exited

    // A peer that joins as dave and then takes carol's name mid-session.
    const dave = start(peerArgs('dave'))
    dave.send('hello from dave')
    expect(await carol.waitFor('stdout', /hello from dave/)).toBe('<dave> hello from dave')
    dave.send('/nick carol')
    dave.send('now i am carol')
    const renamed = await carol.waitFor('stdout', /now i am carol/)
    expect(renamed).toMatch(/^<carol~[a-z2-7]{4}-[a-z2-7]{4}> now i am carol$/)
    dave.kill()
    carol.kill()
  })
})

/** Polls `condition` every 50 ms for up to `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    if (condition()) return
    await sleep(50)
  }
  throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString()}`)
}
