/** Rooms of real `parley` processes for the member tests: who is there, and how each is told. */
import { join } from 'node:path'
import { freePort, type Proc, type TestProcesses, tempDir } from '@parley/testkit'

/** A short fingerprint as the CLI prints it after a name, `[abcd-efgh]`, for a RegExp. */
export const FP = '\\[[a-z2-7]{4}-[a-z2-7]{4}\\]'

/**
 * alice, bob and carol on secure loopback links in a line alice—bob—carol, each with a data dir of its
 * own: alice dials bob, and carol is dialed by bob (`bob dials carol`) or dials him (`carol dials bob`).
 * Resolves once both links are up, and alice was told that carol is in the room through bob. `extra`
 * arguments go to all three.
 */
export async function aliceBobCarol(
  start: TestProcesses['start'],
  link: 'bob dials carol' | 'carol dials bob',
  extra: readonly string[] = [],
): Promise<[alice: Proc, bob: Proc, carol: Proc]> {
  const names = ['alice', 'bob', 'carol'] as const
  const ports = await Promise.all(names.map(() => freePort()))
  const dials: Record<(typeof names)[number], number | undefined> = {
    alice: 1,
    bob: link === 'bob dials carol' ? 2 : undefined,
    carol: link === 'carol dials bob' ? 1 : undefined,
  }
  const [alice, bob, carol] = names.map((name, i) => {
    const args = ['--listen', `127.0.0.1:${ports[i]}`, '--name', name, '--data-dir', join(tempDir(), name)]
    const to = dials[name]
    if (to !== undefined) args.push('--peer', `127.0.0.1:${ports[to]}`)
    args.push(...extra)
    return start(args)
  }) as [Proc, Proc, Proc]
  await alice.waitFor('stderr', /connected to bob /, 60_000)
  await bob.waitFor('stderr', /connected to carol /, 60_000)
  // Carol has said nothing: her presence, relayed by bob, tells alice she is there.
  await alice.waitFor('stderr', new RegExp(`carol ${FP} is in the room \\(through another member\\)`), 30_000)
  return [alice, bob, carol]
}
