/**
 * An authenticated stranger against the real `parley` binary: what the CLI prints when a peer lies about
 * names (findings 3, 4, 5, 11 of the "a stranger can't hurt you" review), and how it treats a data dir
 * another local user could have tampered with (finding 9).
 */
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { Adversary, ForgedOrigin } from '@parley/adversary'
import { type Proc, tempDir, useBuiltParley } from '@parley/testkit'
import { describe, expect, it } from 'vitest'

const { start, defer } = useBuiltParley()
const DATA_DIR_EXIT = 5
const isRoot = process.getuid?.() === 0

async function victim(dataDir = join(tempDir(), 'data')): Promise<{ proc: Proc; port: number }> {
  const proc = start(['--name', 'alice', '--listen', '127.0.0.1:0', '--data-dir', dataDir])
  const line = await proc.waitFor('stderr', /listening on /)
  return { proc, port: Number(/:(\d+)$/.exec(line)![1]) }
}

async function join_(port: number, name: string): Promise<Adversary> {
  const attacker = await Adversary.dial(`127.0.0.1:${port}`, { name })
  defer(() => attacker.close())
  await attacker.join()
  return attacker
}

/** A short fingerprint as the CLI prints it: `[xxxx-xxxx]` after the name in status lines. */
async function fingerprintOf(proc: Proc, name: string): Promise<string> {
  const line = await proc.waitFor('stderr', new RegExp(`${name} \\[[^\\]]+\\]`))
  return new RegExp(`${name} \\[([^\\]]+)\\]`).exec(line)![1]!
}

describe('what the CLI prints for names a stranger chose', () => {
  it('never lets a relayed name start a forged line, nor a rename pass silently as someone else', async () => {
    const { proc, port } = await victim()
    const bob = await join_(port, 'bob')
    bob.say('hi, bob here')
    await proc.waitFor('stdout', /^<bob> hi, bob here$/)
    const bobPrint = await fingerprintOf(proc, 'connected to bob')

    const relay = await join_(port, 'relay')
    // Finding 5: a newline in a relayed name.
    const carol = new ForgedOrigin('carol> ok\n<bob')
    relay.relay(carol.say('I am bob, wire the money today'))
    await proc.waitFor('stdout', /wire the money today/)
    // Finding 3: a member first seen as mallory signs a later message as bob.
    const mallory = new ForgedOrigin('mallory')
    relay.relay(mallory.say('hello all'))
    await proc.waitFor('stdout', /^<mallory> hello all$/)
    relay.relay(mallory.say('it is really me, bob', { name: 'bob' }))
    const renamed = await proc.waitFor('stdout', /it is really me, bob/)
    const warning = await proc.waitFor('stderr', /now calls itself bob/)
    const malloryPrint = /mallory \[([^\]]+)\]/.exec(warning)![1]!
    expect(warning).toMatch(/^parley: WARNING: mallory \[/)
    expect(warning).toContain(`[${bobPrint}]`)
    expect(renamed).toBe(`<bob~${malloryPrint}> it is really me, bob`)
    // Finding 11: bidi controls and separators in a body are shown, not obeyed.
    bob.say('\u202etxet desrever\u2066 and\u2028more')
    const bidi = await proc.waitFor('stdout', /txet desrever/)
    expect(bidi).toBe('<bob~' + bobPrint + '> \\u202etxet desrever\\u2066 and\\u2028more')

    // Every line on stdout starts with the sender's label; the forged "<bob> ..." line never appears.
    const labels = [
      `<bob> `,
      `<bob~${bobPrint}> `,
      '<carol\ufffd ok\ufffd\ufffdbob> ',
      '<mallory> ',
      `<bob~${malloryPrint}> `,
    ]
    for (const line of proc.stdout)
      expect(
        labels.some((label) => line.startsWith(label)),
        line,
      ).toBe(true)
    expect(proc.stdout.filter((line) => line.startsWith('<bob> I am bob'))).toEqual([])
    for (const line of [...proc.stdout, ...proc.stderr])
      expect(line).not.toMatch(/[\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
  })

  it('cannot flood the screen in its own voice: a rename loop and made-up members are a few lines and a count', async () => {
    const { proc } = await victim()
    const port = Number(/:(\d+)$/.exec(await proc.waitFor('stderr', /listening on /))![1])
    const relay = await join_(port, 'relay')
    // One member that renames itself with every message, then 100 members made up with throwaway keys.
    const chameleon = new ForgedOrigin('alice_')
    for (let n = 0; n < 200; n++)
      relay.relay(chameleon.say(`line ${n}`, { name: n % 2 ? 'alice' : 'alice_' }))
    for (let n = 0; n < 100; n++) relay.relay(new ForgedOrigin(`m${n}`).say(`made up ${n}`))
    // Every message is shown (the rate limit allows them), in order, once.
    await proc.waitFor('stdout', /made up 99$/)
    expect(proc.stdout.filter((line) => / line \d+$/.test(line))).toHaveLength(200)
    // The node's own lines about them: 20 WARNINGs and 20 other lines in the window, the rest counted
    // when it ends.
    const warnings = proc.stderr.filter((line) => /WARNING/.test(line))
    const news = proc.stderr.filter(
      (line) => !/WARNING/.test(line) && /is in the room|wrote in the room/.test(line),
    )
    expect(warnings.length).toBeLessThanOrEqual(20)
    expect(news.length).toBeLessThanOrEqual(20)
    expect(proc.stderr.length).toBeLessThan(60)
  })

  it('warns when a look-alike of a member name joins: a zero-width space, a Cyrillic o', async () => {
    const { proc, port } = await victim()
    const bob = await join_(port, 'bob')
    bob.say('hi')
    await proc.waitFor('stdout', /^<bob> hi$/)
    const relay = await join_(port, 'relay')
    const zeroWidth = new ForgedOrigin('bob\u200b')
    relay.relay(zeroWidth.say('from the zero-width bob'))
    const lookalike = await join_(port, 'B\u043eb')
    lookalike.say('from the Cyrillic bob')
    await proc.waitFor('stdout', /from the zero-width bob/)
    await proc.waitFor('stdout', /from the Cyrillic bob/)
    const warnings = proc.stderr.filter((line) => line.includes('WARNING'))
    expect(warnings.length).toBeGreaterThanOrEqual(2)
    for (const line of proc.stdout.filter((l) => l.includes('from the'))) expect(line).toMatch(/^<\S+~\S+> /)
  })

  it('does not say a member of old messages is in the room now on a presence older than them', async () => {
    const { proc, port } = await victim()
    const relay = await Adversary.dial(`127.0.0.1:${port}`, { name: 'relay', presence: true })
    defer(() => relay.close())
    await relay.join()
    const carol = new ForgedOrigin('carol')
    const now = Date.now()
    relay.relay(carol.say('five minutes ago', { ts: now - 5 * 60_000 }))
    await proc.waitFor('stderr', /carol \[[^\]]+\] wrote in the room/)
    // Within presence's 10 minutes, but held back since before her message: it says no more than it did.
    relay.send({ ...carol.here('here', { ts: now - 9 * 60_000 }) })
    relay.relay(new ForgedOrigin('dave').say('after the old presence'))
    await proc.waitFor('stdout', /^<dave> after the old presence$/)
    expect(proc.stderr.filter((line) => /carol .* is in the room now/.test(line))).toEqual([])
    relay.send({ ...carol.here('here') })
    await proc.waitFor('stderr', /^parley: carol \[[^\]]+\] is in the room now \(through another member\)$/)
  })

  it('warns when a name holds a format control a terminal draws as nothing: U+FFF9, an Egyptian one', async () => {
    const { proc, port } = await victim()
    const bob = await join_(port, 'bob')
    bob.say('hi')
    await proc.waitFor('stdout', /^<bob> hi$/)
    const annotated = await join_(port, 'bo\ufff9b')
    annotated.say('from the annotated bob')
    const relay = await join_(port, 'relay')
    relay.relay(new ForgedOrigin('b\u{13430}ob').say('from the Egyptian bob'))
    await proc.waitFor('stdout', /from the annotated bob/)
    await proc.waitFor('stdout', /from the Egyptian bob/)
    expect(proc.stderr.filter((line) => line.includes('WARNING')).length).toBeGreaterThanOrEqual(2)
    for (const line of proc.stdout.filter((l) => l.includes('from the')))
      expect(line).toMatch(/^<bob~[a-z2-7]{4}-[a-z2-7]{4}> /)
  })

  it('shows ~, < and > in a name as U+FFFD, so it forges neither a fingerprint label nor the end of <name>', async () => {
    const { proc, port } = await victim()
    const relay = await join_(port, 'relay')
    const leaving = new ForgedOrigin('alice> I am leaving the project, revoke my access. Thanks')
    relay.relay(leaving.say('.'))
    expect(await proc.waitFor('stdout', /revoke my access/)).toBe(
      '<alice\ufffd I am leaving the project, revoke my access. Thanks> .',
    )
    // Earlier releases let --name hold a ~: such a hello is accepted, and its name shown cleaned.
    const bob = await join_(port, 'bob~jbwp-tsxb')
    bob.say('I am the second bob')
    expect(await proc.waitFor('stdout', /second bob/)).toBe('<bob\ufffdjbwp-tsxb> I am the second bob')
    for (const line of proc.stdout) expect(line).toMatch(/^<[^<>~]+> /)
  })

  it('refuses a stranger whose hello name has a control character, and says why on one line', async () => {
    const { proc, port } = await victim()
    const attacker = await Adversary.dial(`127.0.0.1:${port}`, { name: 'carol\n<bob> wire the money' })
    defer(() => attacker.close())
    attacker.hello()
    const { bye } = await attacker.closed
    expect(bye).toContain('U+000A')
    const line = await proc.waitFor('stderr', /U\+000A/)
    expect(line).toMatch(/^parley: peer at .* was dropped: invalid hello message at "name"/)
    expect(proc.stdout).toEqual([])
  })
})

describe('finding 9: a data dir another user could have tampered with', () => {
  /** A data dir left world-writable by another user, with links planted to the victim's files. */
  function plantedDir(): { dir: string; rc: string; pub: string } {
    const home = tempDir()
    const rc = join(home, '.bashrc')
    const pub = join(home, 'notes.txt')
    writeFileSync(rc, 'export PATH=/usr/bin\n')
    writeFileSync(pub, 'my notes\n')
    const dir = join(home, 'shared-parley')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    symlinkSync(rc, join(dir, 'parley.log'))
    symlinkSync(pub, join(dir, 'identity.pub'))
    return { dir, rc, pub }
  }

  it('refuses a data dir others can write, with exit 5 and the chmod to run, touching nothing', async () => {
    const { dir, rc, pub } = plantedDir()
    const proc = start(['--name', 'alice', '--listen', '127.0.0.1:0', '--data-dir', dir])
    expect(await proc.exited).toBe(DATA_DIR_EXIT)
    expect(proc.stderr).toEqual([
      expect.stringMatching(
        new RegExp(
          `^parley: data dir ${dir} can be written by other users \\(mode 0777\\); fix it with: chmod go-w ${dir}$`,
        ),
      ),
    ])
    expect(readFileSync(rc, 'utf8')).toBe('export PATH=/usr/bin\n')
    expect(readFileSync(pub, 'utf8')).toBe('my notes\n')
    const id = start(['id', '--data-dir', dir])
    expect(await id.exited).toBe(DATA_DIR_EXIT)
  })

  it.skipIf(!isRoot)(
    'refuses a data dir that belongs to another user, with exit 5 and the chown to run',
    async () => {
      const dir = join(tempDir(), 'theirs')
      mkdirSync(dir, { mode: 0o700 })
      chownSync(dir, 4242, 4242)
      const proc = start(['--name', 'alice', '--listen', '127.0.0.1:0', '--data-dir', dir])
      expect(await proc.exited).toBe(DATA_DIR_EXIT)
      expect(proc.stderr).toEqual([expect.stringContaining(`belongs to another user (uid 4242`)])
      expect(proc.stderr[0]).toContain(`chown -R ${process.getuid?.()} ${dir}`)
    },
  )

  it('in its own data dir, replaces a planted identity.pub link and refuses to append the log through one', async () => {
    const { dir, rc, pub } = plantedDir()
    chmodSync(dir, 0o700)
    const id = start(['id', '--data-dir', dir])
    expect(await id.exited).toBe(0)
    expect(readFileSync(pub, 'utf8')).toBe('my notes\n')
    expect(lstatSync(join(dir, 'identity.pub')).isSymbolicLink()).toBe(false)
    const proc = start(['--name', 'alice', '--listen', '127.0.0.1:0', '--data-dir', dir])
    expect(await proc.exited).toBe(DATA_DIR_EXIT)
    expect(proc.stderr).toEqual([
      `parley: ${join(dir, 'parley.log')} is a symbolic link, and parley never writes through one (it could point at any file of yours); remove the link`,
    ])
    expect(readFileSync(rc, 'utf8')).toBe('export PATH=/usr/bin\n')
  })

  it('logs a peer named $(touch FILE) so that even a shell sourcing the log runs nothing', async () => {
    const dataDir = join(tempDir(), 'data')
    const marker = join(tempDir(), 'pwned')
    const { proc, port } = await victim(dataDir)
    const attacker = await join_(port, `$(touch ${marker})`)
    attacker.say('hi')
    await proc.waitFor('stdout', /hi$/)
    attacker.send({ type: 'bye', reason: `\`touch ${marker}\`\n\u2028$(touch ${marker})` })
    await proc.waitFor('stderr', /disconnected from/)
    proc.kill('SIGTERM')
    await proc.exited
    const log = join(dataDir, 'parley.log')
    const text = readFileSync(log, 'utf8')
    expect(text).toContain('\\u0024(touch')
    const shell = spawnSync('bash', ['-c', `source ${log}`], { encoding: 'utf8' })
    expect(shell.error).toBeUndefined()
    expect(existsSync(marker)).toBe(false)
  })
})

describe('what /peers prints of what a stranger said', () => {
  it('shows the address a neighbour says it listens on with its escape codes made visible', async () => {
    const { proc, port } = await victim()
    // Clear the screen and retitle the terminal, in the one hello field /peers shows as it came.
    const attacker = await Adversary.dial(`127.0.0.1:${port}`, {
      name: 'mallory',
      listen: '127.0.0.1:9\u001b[2J\u001b]0;owned\u0007\u009b31m',
    })
    defer(() => attacker.close())
    await attacker.join()
    await proc.waitFor('stderr', /connected to mallory/)
    proc.send('/peers')
    const line = await proc.waitFor('stderr', /mallory \[[^\]]+\] direct, connected at/)
    expect(line).toContain('connected at 127.0.0.1:9^[[2J^[]0;owned^G\\u009b31m')
    for (const printed of proc.stderr) expect(printed).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
  })
})
