import { randomBytes } from 'node:crypto'
import { hasProgram, run, runSync } from './commands.js'

/**
 * Addresses exist only inside the lab: TEST-NET-2 (198.51.100.0/24) is its internet, 10.0.x.0/24 its home
 * networks. No namespace gets a link to the machine's interfaces or a route out of the lab.
 */
export const LAB_ADDRESSES = {
  /** Three bootstrap hosts on the internet bridge: NAT typing needs at least three samples. */
  bootstrap: ['198.51.100.10', '198.51.100.11', '198.51.100.12'],
  bootstrapPort: 49737,
  routerA: { wan: '198.51.100.101', lan: '10.0.1.1' },
  routerB: { wan: '198.51.100.102', lan: '10.0.2.1' },
  hostA: '10.0.1.2',
  /** A second host behind router A, on the same home network as host A. */
  hostA2: '10.0.1.3',
  hostB: '10.0.2.2',
  /** A host on the internet with no NAT, for a relay. */
  public: '198.51.100.50',
} as const

export type LabHost = 'inet' | 'natA' | 'natB' | 'hostA' | 'hostA2' | 'hostB' | 'public'

export interface LabOptions {
  /** Both routers map every new flow to a random port (`MASQUERADE --random-fully`), like many mobile NATs. */
  randomFully?: boolean
  /**
   * What the lab's namespace names start with (default LAB_PREFIX, or `PARLEY_LAB_PREFIX`): labs of several
   * people on one machine stay apart, and the sweep of dead labs looks at this prefix only.
   */
  prefix?: string
}

/** Every namespace of every lab starts with this, then the pid of the process that built it. */
export const LAB_PREFIX = 'plab'

export interface Lab {
  /** The namespace names, unique to this lab. */
  readonly namespaces: Readonly<Record<LabHost, string>>
  /** The argv prefix that runs a program inside `host`'s namespace (`ip netns exec NS`). */
  inside(host: LabHost): string[]
  /** Runs a command inside `host` and resolves with its stdout. */
  exec(host: LabHost, argv: readonly string[]): Promise<string>
  /** Switches both routers between port-keeping NAT and `--random-fully`, for the flows that start after. */
  randomize(on: boolean): Promise<void>
  /** Deletes every namespace of the lab (and with them every interface and rule); safe to call twice. */
  destroy(): Promise<void>
}

/** Why the lab cannot run here, or undefined when it can (root, `ip` and `iptables` present). */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'the NAT lab needs Linux network namespaces'
  if (process.getuid?.() !== 0) return 'the NAT lab needs root (network namespaces and iptables)'
  for (const program of ['ip', 'iptables', 'sysctl']) {
    if (!hasProgram(program)) return `the NAT lab needs "${program}" (install iproute2 and iptables)`
  }
  return undefined
}

/**
 * Builds the lab: an `inet` namespace with a bridge and the bootstrap addresses, two home routers that
 * masquerade and drop unsolicited packets from the internet, host A (and A2) behind router A, host B behind
 * router B, and a public host. Namespaces are deleted when the process exits, even on SIGINT or SIGTERM;
 * leftovers of dead runs are swept first.
 */
export async function buildLab(options: LabOptions = {}): Promise<Lab> {
  const reason = labUnavailableReason()
  if (reason !== undefined) throw new Error(reason)
  const prefix = options.prefix ?? (process.env.PARLEY_LAB_PREFIX || LAB_PREFIX)
  if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) throw new Error(`lab prefix "${prefix}": expected 1-8 of a-z0-9`)
  await sweepStaleLabs(prefix)
  const id = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`
  const namespaces: Record<LabHost, string> = {
    inet: `${id}-inet`,
    natA: `${id}-nat-a`,
    natB: `${id}-nat-b`,
    hostA: `${id}-host-a`,
    hostA2: `${id}-host-a2`,
    hostB: `${id}-host-b`,
    public: `${id}-pub`,
  }
  const created: string[] = []
  const removeAll = () => {
    for (const ns of created.splice(0).reverse()) deleteNamespace(ns)
  }
  const onExit = () => removeAll()
  const onSignal = (signal: NodeJS.Signals) => {
    removeAll()
    process.kill(process.pid, signal)
  }
  process.once('exit', onExit)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const lab: Lab = {
    namespaces,
    inside: (host) => ['ip', 'netns', 'exec', namespaces[host]],
    exec: (host, argv) => run([...lab.inside(host), ...argv]),
    randomize: async (on) => {
      for (const router of ['natA', 'natB'] as const) {
        await lab.exec(router, [...masquerade('-R'), ...(on ? ['--random-fully'] : [])])
      }
    },
    destroy: async () => {
      removeAll()
      process.off('exit', onExit)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
  try {
    for (const ns of Object.values(namespaces)) {
      await run(['ip', 'netns', 'add', ns])
      created.push(ns)
      await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
    }
    await wire(namespaces, options)
  } catch (error) {
    await lab.destroy()
    throw error
  }
  return lab
}

async function wire(ns: Record<LabHost, string>, options: LabOptions): Promise<void> {
  const ip = (host: LabHost, ...args: string[]) => run(['ip', '-n', ns[host], ...args])
  const A = LAB_ADDRESSES

  // The internet: one bridge, the bootstrap addresses on it.
  await ip('inet', 'link', 'add', 'br0', 'type', 'bridge')
  await ip('inet', 'link', 'set', 'br0', 'up')
  await ip('inet', 'addr', 'add', `${A.bootstrap[0]}/24`, 'dev', 'br0')
  for (const extra of A.bootstrap.slice(1)) await ip('inet', 'addr', 'add', `${extra}/32`, 'dev', 'br0')

  // Every veth is created inside its namespaces, never in the machine's own.
  const plug = async (host: LabHost, inside: string, bridgeNs: LabHost, bridge: string, outside: string) => {
    await ip(host, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', outside, 'netns', ns[bridgeNs])
    await ip(bridgeNs, 'link', 'set', outside, 'master', bridge)
    await ip(bridgeNs, 'link', 'set', outside, 'up')
    await ip(host, 'link', 'set', inside, 'up')
  }

  await plug('public', 'wan', 'inet', 'br0', 'to-pub')
  await ip('public', 'addr', 'add', `${A.public}/24`, 'dev', 'wan')

  const routers = [
    {
      router: 'natA',
      addresses: A.routerA,
      tag: 'a',
      hosts: [['hostA', A.hostA] as const, ['hostA2', A.hostA2] as const],
    },
    { router: 'natB', addresses: A.routerB, tag: 'b', hosts: [['hostB', A.hostB] as const] },
  ] as const
  for (const { router, addresses, tag, hosts } of routers) {
    await plug(router, 'wan', 'inet', 'br0', `to-nat-${tag}`)
    await ip(router, 'addr', 'add', `${addresses.wan}/24`, 'dev', 'wan')
    await ip(router, 'link', 'add', 'lan', 'type', 'bridge')
    await ip(router, 'link', 'set', 'lan', 'up')
    await ip(router, 'addr', 'add', `${addresses.lan}/24`, 'dev', 'lan')
    for (const [host, address] of hosts) {
      await plug(host, 'eth0', router, 'lan', `to-${host.toLowerCase()}`)
      await ip(host, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
      await ip(host, 'route', 'add', 'default', 'via', addresses.lan)
    }
    const inRouter = ['ip', 'netns', 'exec', ns[router]]
    await run([...inRouter, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    await run([...inRouter, ...masquerade('-A'), ...(options.randomFully ? ['--random-fully'] : [])])
    // A home router drops what nobody on its network asked for. Without this, an early punch packet
    // from the peer claims the mapping first and our own punch is moved to another port mid-punch.
    for (const chain of ['INPUT', 'FORWARD']) {
      await run([
        ...inRouter,
        'iptables',
        '-A',
        chain,
        '-i',
        'wan',
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        'DROP',
      ])
    }
  }
}

/** The router's one NAT rule, appended (`-A`) or replaced in place (`-R`). */
function masquerade(how: '-A' | '-R'): string[] {
  const position = how === '-R' ? ['1'] : []
  return ['iptables', '-t', 'nat', how, 'POSTROUTING', ...position, '-o', 'wan', '-j', 'MASQUERADE']
}

function deleteNamespace(ns: string): void {
  // Processes left inside would keep the namespace's interfaces alive after the name is gone.
  runSync(['sh', '-c', `ip netns pids ${ns} 2>/dev/null | xargs -r kill -9`])
  runSync(['ip', 'netns', 'delete', ns])
}

/** Deletes the namespaces of labs whose building process is gone (a crash, a kill -9). */
export async function sweepStaleLabs(prefix = LAB_PREFIX): Promise<string[]> {
  const listing = await run(['ip', 'netns', 'list']).catch(() => '')
  const swept: string[] = []
  for (const line of listing.split('\n')) {
    const ns = line.split(' ')[0] ?? ''
    const match = new RegExp(`^${prefix}-(\\d+)-`).exec(ns)
    if (!match || isAlive(Number(match[1]))) continue
    deleteNamespace(ns)
    swept.push(ns)
  }
  return swept
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
