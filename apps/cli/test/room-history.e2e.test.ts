/**
 * A data dir is one conversation: whoever links is caught up on it. Joining a room by code with a data dir
 * that held a one-to-one chat is refused, so the room's members are not shown that chat. Real `parley`
 * processes on a private DHT whose one bootstrap node is `parley bootstrap` on 127.0.0.1.
 */
import { join } from 'node:path'
import { listeningPort, tempDir, useBuiltParley, useLoopbackBootstrap } from '@parley/testkit'
import { beforeAll, describe, expect, it } from 'vitest'

const { start } = useBuiltParley()

const loopbackDht = useLoopbackBootstrap()
let bootstrap: string
beforeAll(() => {
  bootstrap = loopbackDht.address()
})

/** Alice and bob chat one-to-one over TCP; resolves with alice's data dir, which now holds that chat. */
async function oneToOneChat(aliceDir = join(tempDir(), 'alice')): Promise<string> {
  const alice = start(['--listen', '127.0.0.1:0', '--name', 'alice', '--data-dir', aliceDir])
  const port = await listeningPort(alice)
  const bob = start(['--peer', `127.0.0.1:${port}`, '--listen', '127.0.0.1:0', '--name', 'bob'])
  bob.send('just between us')
  bob.end()
  expect(await bob.exited).toBe(0)
  await alice.waitFor('stdout', /just between us/)
  alice.kill()
  expect(await alice.exited).toBe(0)
  return aliceDir
}

async function newRoom(): Promise<string> {
  const room = start(['room', '--bootstrap', bootstrap])
  expect(await room.exited).toBe(0)
  return room.stdout.at(-1)!
}

describe('joining a room with a data dir that holds another chat', () => {
  it('is refused before the room sees any of it (exit 12), saying how to go on', async () => {
    const aliceDir = await oneToOneChat()
    const code = await newRoom()
    const alice = start(['--bootstrap', bootstrap, '--room', code, '--name', 'alice', '--data-dir', aliceDir])
    const carol = start(['--bootstrap', bootstrap, '--room', code, '--name', 'carol'])
    // Whichever comes first: alice's refusal, or carol being caught up on the one-to-one chat.
    const first = await Promise.race([
      alice.exited.then((code) => ({ aliceExited: code })),
      carol.waitFor('stdout', /just between us/).then((line) => ({ carolSaw: line })),
    ])
    expect(first).toEqual({ aliceExited: 12 })
    expect(alice.stderr.at(-1)).toBe(
      `parley: ${aliceDir} holds 1 message(s) from a chat without a room (one-to-one, or over TCP); joining this room would catch everyone in it up on them: give the room its own --data-dir DIR, or pass --share-history to bring them along`,
    )
    // Carol is alone in the room: alice never joined it.
    await carol.waitFor('stderr', /nobody else is in room/)
    carol.kill()
    expect(await carol.exited).toBe(0)
    expect(carol.stdout).toEqual([])
  })

  it('goes on with --share-history, a newcomer is caught up on the chat, and a restart in the room goes on', async () => {
    const aliceDir = await oneToOneChat()
    const code = await newRoom()
    const alice = start([
      '--bootstrap',
      bootstrap,
      '--room',
      code,
      '--share-history',
      '--name',
      'alice',
      '--data-dir',
      aliceDir,
    ])
    await alice.waitFor('stderr', /nobody else is in room/)
    const carol = start(['--bootstrap', bootstrap, '--room', code, '--name', 'carol'])
    expect(await carol.waitFor('stdout', /just between us/)).toBe('<bob> just between us')
    alice.kill()
    expect(await alice.exited).toBe(0)
    // Its messages are this room's now: a restart in the room goes on without the flag.
    const again = start(['--bootstrap', bootstrap, '--room', code, '--name', 'alice', '--data-dir', aliceDir])
    await again.waitFor('stderr', /connected to carol/)
    again.kill()
    carol.kill()
    expect(await again.exited).toBe(0)
    expect(await carol.exited).toBe(0)
  })

  it("is refused again once a room member's data dir held a one-to-one chat, which the room never saw", async () => {
    const code = await newRoom()
    const aliceDir = join(tempDir(), 'alice')
    const alice = start(['--bootstrap', bootstrap, '--room', code, '--name', 'alice', '--data-dir', aliceDir])
    await alice.waitFor('stderr', /nobody else is in room/)
    const carol = start(['--bootstrap', bootstrap, '--room', code, '--name', 'carol'])
    await carol.waitFor('stderr', /connected to alice/)
    carol.send('said in the room')
    await alice.waitFor('stdout', /said in the room/)
    carol.kill()
    alice.kill()
    expect(await carol.exited).toBe(0)
    expect(await alice.exited).toBe(0)
    // The same data dir, now for a chat without a room: it goes on, and holds that chat too.
    await oneToOneChat(aliceDir)
    const back = start(['--bootstrap', bootstrap, '--room', code, '--name', 'alice', '--data-dir', aliceDir])
    expect(await back.exited).toBe(12)
    expect(back.stderr.at(-1)).toMatch(/holds \d+ message\(s\) from a chat without a room/)
  })

  it('is refused before the DHT is joined, so a DHT that cannot be reached does not hide it', async () => {
    const aliceDir = await oneToOneChat()
    const code = await newRoom()
    // Nothing listens on 127.0.0.1:1: a join would fail with exit 9 after its timeout.
    const alice = start([
      '--bootstrap',
      '127.0.0.1:1',
      '--room',
      code,
      '--name',
      'alice',
      '--data-dir',
      aliceDir,
    ])
    expect(await alice.exited).toBe(12)
    expect(alice.stderr.join('\n')).not.toMatch(/joining the DHT|bootstrap node answered/)
  })
})
