/**
 * parley-tui over the DHT: the real app in tmux, a real `parley` CLI peer, and a private DHT whose one
 * bootstrap node is `parley bootstrap` on 127.0.0.1 (nothing leaves loopback; the public DHT is refused).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CLI_BIN, type CliPeer, describeInTmux, stage, type Tmux, until } from './harness.js'

/** Every node here refuses the public DHT, whatever the environment the tests run in. */
const PRIVATE_ONLY = { PARLEY_DHT_PRIVATE_ONLY: '1' }

let bootstrapNode: ChildProcessWithoutNullStreams | undefined
let bootstrap = ''
const dirs: string[] = []
const { cli, startTui } = stage()

afterAll(() => {
  bootstrapNode?.kill('SIGKILL')
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A data dir with an identity in it, and that identity's full fingerprint (its address on the DHT). */
function identity(): { dataDir: string; fingerprint: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-dht-'))
  dirs.push(dataDir)
  const result = spawnSync(process.execPath, [CLI_BIN, 'id', '--json', '--data-dir', dataDir], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  expect(result.status).toBe(0)
  const { fingerprint } = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { fingerprint: string }
  return { dataDir, fingerprint }
}

/** A CLI node named bob, announced on the test's DHT under the key of `dataDir`. */
async function bobOnTheDht(dataDir: string): Promise<CliPeer> {
  const bob = cli('bob', ['--dht', '--bootstrap', bootstrap, '--data-dir', dataDir])
  await bob.waitForEvent('listening', (e) => e.type === 'listening')
  return bob
}

/** parley-tui's pid before it has drawn a screen: the child of the shell that the tmux pane runs. */
function tuiProcess(session: Tmux): number {
  const shell = session.tmux('list-panes', '-F', '#{pane_pid}').trim()
  const child = spawnSync('ps', ['-o', 'pid=', '--ppid', shell], { encoding: 'utf8' }).stdout.trim()
  expect(child).toMatch(/^\d+$/)
  return Number(child)
}

const connectedByKey =
  /-- connected to bob \[[a-z2-7]{4}-[a-z2-7]{4}\] over the DHT \(direct UDP on this machine: 127\.0\.0\.1:\d+\)$/

describeInTmux('parley-tui over the DHT', () => {
  beforeAll(async () => {
    bootstrapNode = spawn(process.execPath, [CLI_BIN, 'bootstrap', '--listen', '127.0.0.1:0'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...PRIVATE_ONLY },
    })
    let out = ''
    bootstrapNode.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
    })
    bootstrap = await until(
      'the bootstrap node to print its address',
      () => /^(127\.0\.0\.1:\d+)$/m.exec(out)?.[1],
    )
  })

  it('dials a CLI peer by its fingerprint, says the link is holepunched, and chats both ways', async () => {
    const { dataDir, fingerprint } = identity()
    const bob = await bobOnTheDht(dataDir)
    const tmux = startTui(
      ['--peer', fingerprint, '--bootstrap', bootstrap, '--name', 'alice'],
      160,
      30,
      PRIVATE_ONLY,
    )
    const screen = await tmux.waitForScreen('the connection by key', (lines) =>
      lines.some((l) => connectedByKey.test(l)),
    )
    expect(screen).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `-- listening on the DHT under your key: others reach you with parley --bootstrap ${bootstrap} --peer\\b`,
        ),
      ),
    )
    // The status bar names the route, not the 64-hex key, and this node by its short fingerprint.
    await tmux.waitForScreen('the status bar', (lines) =>
      lines.some((l) =>
        /^ connected {2}bob DHT, direct UDP at 127\.0\.0\.1:\d+ │ alice @ DHT key \[[a-z2-7]{4}-[a-z2-7]{4}\]/.test(
          l,
        ),
      ),
    )
    const link = await bob.waitForEvent('alice by key', (e) => e.type === 'connected' && e.peer === 'alice')
    expect(link).toMatchObject({
      address: expect.stringMatching(/^dht:[0-9a-f]{64}$/),
      link: { kind: 'holepunched' },
    })

    bob.send('hello over the DHT')
    await tmux.waitForScreen('bob’s line', (lines) => lines.some((l) => /<bob> hello over the DHT$/.test(l)))
    tmux.type('hi bob, by key')
    tmux.keys('Enter')
    const message = await bob.waitForEvent('alice’s line', (e) => e.type === 'message')
    expect(message).toMatchObject({ from: 'alice', body: 'hi bob, by key' })

    // bob also listens on TCP, and says so in his hello: /peers shows where, and how the link was made.
    tmux.type('/peers')
    tmux.keys('Enter')
    await tmux.waitForScreen('/peers with the route', (lines) =>
      lines.some((l) =>
        /-- bob \[[a-z2-7-]+\] direct, connected at 127\.0\.0\.1:\d+ \(direct UDP on this machine: 127\.0\.0\.1:\d+\)$/.test(
          l,
        ),
      ),
    )
    // The member panel says it in the same words: a peer on this machine is no holepunch.
    tmux.keys('F2')
    const panel = await tmux.waitForScreen('the member panel with bob', (lines) =>
      lines.some((l) => /│ ● bob [a-z2-7]{4}-[a-z2-7]{4}\s*$/.test(l)),
    )
    const row = panel.findIndex((l) => /│ ● bob /.test(l))
    expect(panel[row + 1]).toMatch(/│ {3}direct UDP\s*$/)
  })

  it('/connect FINGERPRINT without the DHT says once to restart with --dht, and leaves nothing redialing', async () => {
    const { fingerprint } = identity()
    const tmux = startTui(['--listen', '127.0.0.1:0', '--name', 'alice'], 200, 30, PRIVATE_ONLY)
    await tmux.waitForScreen('listening', (lines) =>
      lines.some((l) => l.includes('-- listening on 127.0.0.1:')),
    )
    const refusal =
      /!! cannot dial key \[[a-z2-7]{4}-[a-z2-7]{4}\]: this node is not on the DHT; restart parley with --dht \(and the peer's --bootstrap, if it uses one\), or use \/connect HOST:PORT$/
    tmux.type(`/connect ${fingerprint}`)
    tmux.keys('Enter')
    await tmux.waitForScreen('the line saying what to do', (lines) => lines.some((l) => refusal.test(l)))
    // Asked again, it answers the same: no dial was left running ("already dialing" would say so).
    tmux.type(`/connect ${fingerprint}`)
    tmux.keys('Enter')
    const screen = await tmux.waitForScreen(
      'the same line twice',
      (lines) => lines.filter((l) => refusal.test(l)).length === 2,
    )
    expect(screen.join('\n')).not.toMatch(/dialing|already|cannot reach/)
    expect(screen.at(-2)).toMatch(/^ listening /)
  })

  it.each([
    ['Ctrl-C', 'C-c'],
    ['SIGTERM', undefined],
  ] as const)(
    '%s while it joins the DHT stops at once, after a line that says what it waits for: exit 0',
    async (_, key) => {
      // A UDP port that takes every packet and answers none: a bootstrap node that never answers.
      const silent = createSocket('udp4')
      await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
      try {
        const at = `127.0.0.1:${silent.address().port}`
        const { dataDir } = identity()
        const tmux = startTui(
          ['--peer', identity().fingerprint, '--bootstrap', at, '--data-dir', dataDir],
          120,
          30,
          PRIVATE_ONLY,
        )
        // Before the screen exists, the line goes to the terminal (stderr); the screen is not up yet.
        await until('the joining line', () =>
          tmux.stderr().includes(`parley-tui: joining the DHT (bootstrap ${at})…`),
        )
        if (key) tmux.keys(key)
        else process.kill(tuiProcess(tmux), 'SIGTERM')
        // Without the stop it waited ~6 s for the silent node, then said none answered (exit 9).
        expect(await until('parley-tui to exit', () => tmux.exitCode(), 10_000)).toBe(0)
        expect(tmux.stderr().trim().split('\n')).toEqual([
          `parley-tui: joining the DHT (bootstrap ${at})…`,
          'parley-tui: stopped while joining the DHT; nothing was sent',
        ])
      } finally {
        silent.close()
      }
    },
  )

  it('/quit takes its key off the DHT: a dial right after is told nobody announces it (exit 8)', async () => {
    const { dataDir, fingerprint } = identity()
    const tmux = startTui(
      ['--dht', '--bootstrap', bootstrap, '--data-dir', dataDir, '--name', 'alice'],
      200,
      30,
      PRIVATE_ONLY,
    )
    await tmux.waitForScreen('listening on the DHT', (lines) =>
      lines.some((l) => l.includes('-- listening on the DHT under your key')),
    )
    tmux.type('/quit')
    tmux.keys('Enter')
    expect(await until('parley-tui to exit', () => tmux.exitCode())).toBe(0)
    const dial = spawnSync(
      process.execPath,
      [
        CLI_BIN,
        '--peer',
        fingerprint,
        '--bootstrap',
        bootstrap,
        '--wait',
        '1',
        '--data-dir',
        identity().dataDir,
      ],
      {
        input: 'still there?\n',
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, ...PRIVATE_ONLY },
      },
    )
    expect(dial.stderr).toMatch(/cannot reach key \[[a-z2-7-]+\]: no node announces it on the DHT/)
    expect(dial.status).toBe(8)
  })
})
