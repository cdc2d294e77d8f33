import { createRoomCode } from '@parley/transport-dht'
import { describe, expect, it } from 'vitest'
import { ExitCode } from './exit-codes.js'
import { parseFlags, usage } from './flags.js'

describe('parseFlags errors', () => {
  it('says how to give a value that starts with a dash, or that a value is missing', () => {
    for (const argv of [
      ['--rate', '-3'],
      ['--name', '--peer', '127.0.0.1:4002'],
    ]) {
      const flag = argv[0]
      expect(() => parseFlags(argv, {})).toThrow(
        expect.objectContaining({
          exitCode: ExitCode.USAGE,
          message: `${flag} needs a value after it; a value that starts with "-" is written ${flag}=-VALUE (see --help)`,
        }),
      )
    }
  })

  it('gives the long form for a short flag, the only one that takes =, and words a value left out', () => {
    expect(() => parseFlags(['-p', '-x'], {})).toThrow(
      expect.objectContaining({
        exitCode: ExitCode.USAGE,
        message:
          '-p needs a value after it; a value that starts with "-" is written --peer=-VALUE (see --help)',
      }),
    )
    for (const argv of [['-p'], ['--peer']]) {
      expect(() => parseFlags(argv, {})).toThrow(
        expect.objectContaining({
          exitCode: ExitCode.USAGE,
          message: '--peer needs a value after it (see --help)',
        }),
      )
    }
  })

  it('says a switch given a value takes none, naming it as the other errors do', () => {
    for (const [argv, flag] of [
      [['--json=yes'], '--json'],
      [['--help=1'], '--help'],
    ] as const)
      expect(() => parseFlags([...argv], {})).toThrow(
        expect.objectContaining({
          exitCode: ExitCode.USAGE,
          message: `${flag} is a switch and takes no value: write ${flag} alone (see --help)`,
        }),
      )
  })

  it('refuses to dial port 0, and still listens on it', () => {
    expect(() => parseFlags(['--peer', '127.0.0.1:0'], {})).toThrow(
      expect.objectContaining({
        exitCode: ExitCode.USAGE,
        message:
          '--peer: port 0 means "any free port" only when listening; give the port the peer listens on (see --help)',
      }),
    )
    expect(parseFlags(['--listen', '127.0.0.1:0', '--peer', '[::1]:4001'], {}).peers).toEqual(['[::1]:4001'])
  })

  it('reads seconds as decimals only, and never rounds a wait above 0 down to "as long as it takes"', () => {
    expect(parseFlags(['--wait', '0.0001'], {}).waitMs).toBe(1)
    expect(parseFlags(['--wait', '0'], {}).waitMs).toBe(0)
    expect(parseFlags(['--wait', '2.5'], {}).waitMs).toBe(2500)
    expect(parseFlags(['--wait', '.5'], {}).waitMs).toBe(500)
    for (const text of ['0x10', '1e3', '', ' ', 'Infinity', '.', '1.2.3']) {
      expect(() => parseFlags(['--wait', text], {})).toThrow(
        expect.objectContaining({
          exitCode: ExitCode.USAGE,
          message: `--wait takes a number of seconds (0-86400), got "${text}" (see --help)`,
        }),
      )
    }
  })

  it('says a name taken from the environment cannot be used, and how to give one, not blaming --name', () => {
    expect(() => parseFlags([], { USER: 'x'.repeat(65) })).toThrow(
      expect.objectContaining({
        exitCode: ExitCode.USAGE,
        message: expect.stringMatching(
          /^the name taken from \$USER, "x{65}", cannot be used: .*; give one with --name NAME \(see --help\)$/,
        ),
      }),
    )
    expect(() => parseFlags([], { PARLEY_NAME: 'a\nb', USER: 'fine' })).toThrow(/taken from \$PARLEY_NAME/)
    expect(parseFlags([], { USER: 'carol' }).name).toBe('carol')
    expect(parseFlags(['--name', 'dave'], { USER: 'x'.repeat(65) }).name).toBe('dave')
    expect(() => parseFlags(['--name', 'x'.repeat(65)], {})).toThrow(/^--name: /)
  })

  it('refuses a --name with ~, < or >, which could pass for a fingerprint label or the end of a name', () => {
    expect(() => parseFlags(['--name', 'alice~jbwp-tsxb'], {})).toThrow(
      /^--name: .*U\+007E.*, got "alice~jbwp-tsxb"/,
    )
    expect(() => parseFlags(['--name', '<alice>'], {})).toThrow(/^--name: .*U\+003C/)
  })

  it('judges a negative value given with = on its own terms', () => {
    expect(() => parseFlags(['--rate=-3'], {})).toThrow(
      /--rate takes a whole number from 0 to 1000000, got "-3"/,
    )
  })

  it('says a byte limit is counted in bytes', () => {
    expect(() => parseFlags(['--max-frame', '1000'], {})).toThrow(
      /^--max-frame takes a whole number of bytes from 1024 to 16777216, got "1000"/,
    )
    expect(() => parseFlags(['--rate-bytes', 'lots'], {})).toThrow(
      /^--rate-bytes takes a whole number of bytes a second from 0 to 1000000000, got "lots"/,
    )
    expect(usage('parley', '')).toMatch(
      /--max-frame BYTES +largest frame accepted from a peer, in bytes; with --plain/,
    )
  })
})

describe('--room', () => {
  it('joins a room given twice once, however its code is written', async () => {
    const { newRoomCode } = await import('./dht-services.js')
    const code = newRoomCode()
    const other = newRoomCode()
    const flags = parseFlags(
      ['--room', code, '--room', code.toUpperCase().replaceAll('-', ''), '--room', other],
      {},
    )
    expect(flags.dht?.rooms).toEqual([code, other])
  })
})

describe('parley help', () => {
  it('is --help alone; with anything after it, or as a value, it is not', () => {
    expect(parseFlags(['help'], {})).toMatchObject({ help: true, command: 'chat' })
    expect(() => parseFlags(['help', 'me'], {})).toThrow(/unexpected argument "me"|unknown command "help"/)
    expect(parseFlags(['--name', 'help'], {})).toMatchObject({ help: false, name: 'help' })
  })
})

describe('--disk-quota', () => {
  const MiB = 1024 * 1024
  it('takes MiB per member and in all, with the defaults of core when absent', () => {
    expect(parseFlags([], {}).diskQuota).toEqual({ perOrigin: 256 * MiB, total: 2048 * MiB })
    expect(parseFlags(['--disk-quota', '8,64'], {}).diskQuota).toEqual({
      perOrigin: 8 * MiB,
      total: 64 * MiB,
    })
    // One number sets each member's share; the total stays the default unless that is smaller.
    expect(parseFlags(['--disk-quota', '512'], {}).diskQuota).toEqual({
      perOrigin: 512 * MiB,
      total: 2048 * MiB,
    })
    expect(parseFlags(['--disk-quota', '4096'], {}).diskQuota).toEqual({
      perOrigin: 4096 * MiB,
      total: 4096 * MiB,
    })
  })

  it('refuses a quota it cannot read, or a total below one member', () => {
    for (const text of ['0', '8,4', 'lots', '8,', '-1']) {
      expect(() => parseFlags([`--disk-quota=${text}`], {})).toThrow(
        expect.objectContaining({
          exitCode: ExitCode.USAGE,
          message: expect.stringContaining('--disk-quota takes'),
        }),
      )
    }
  })
})

describe('DHT flags', () => {
  const KEY = 'ab'.repeat(32)
  const ROOM = createRoomCode()

  it('a key-only peer, --room, --bootstrap and --relay each imply the DHT; a DHT node listens on TCP only when asked', () => {
    const byKey = parseFlags(['--peer', KEY], {})
    expect(byKey.dht).toEqual({ rooms: [] })
    expect(byKey.listen).toBeUndefined()
    expect(byKey.peers).toEqual([`dht:${KEY}`])
    expect(parseFlags(['--room', ROOM], {}).dht).toEqual({ rooms: [ROOM] })
    expect(parseFlags(['--bootstrap', '127.0.0.1:9,10.0.0.1:49737'], {}).dht?.bootstrap).toEqual([
      { host: '127.0.0.1', port: 9 },
      { host: '10.0.0.1', port: 49737 },
    ])
    expect(parseFlags(['--relay', KEY.toUpperCase()], {}).dht?.relay).toBe(KEY)
    const both = parseFlags(['--dht', '--listen', ':0', '--peer', '127.0.0.1:4001'], {})
    expect(both.listen).toBe('127.0.0.1:0')
    expect(parseFlags([], {}).dht).toBeUndefined()
  })

  it('refuses a bad room code, bootstrap list or relay key, and --plain with the DHT, as usage errors', () => {
    for (const [argv, message] of [
      [['--room', 'nope'], /--room: "nope" is not a room code/],
      [['--bootstrap', 'host'], /--bootstrap: "host" is not a bootstrap node/],
      // A relay key comes from `parley relay`, not from the other side's invite.
      [
        ['--relay', 'xyz'],
        /^--relay: "xyz" is not a relay key: expected the 64 hex characters that parley relay prints/,
      ],
      // The flag is named once.
      [
        ['--bootstrap', ''],
        /^--bootstrap needs at least one HOST:PORT, such as 198\.51\.100\.10:49737 \(see --help\)$/,
      ],
      [['--plain', '--dht'], /--plain is TCP only/],
      [['--plain', '--peer', KEY], /--plain is TCP only/],
    ] as const) {
      expect(() => parseFlags(argv, {}), argv.join(' ')).toThrow(
        expect.objectContaining({ exitCode: ExitCode.USAGE, message: expect.stringMatching(message) }),
      )
    }
  })

  it('refuses a flag a command would ignore, and takes the ones it reads', () => {
    for (const [argv, message] of [
      [
        ['room', '--peer', '127.0.0.1:4001'],
        /^"room" does not take --peer; it takes --bootstrap, --json \(see --help\)$/,
      ],
      [['id', '--name', 'bob'], /^"id" does not take --name; it takes --data-dir, --json \(see --help\)$/],
      [['bootstrap', '--listen', '127.0.0.1:0', '--history', '3'], /^"bootstrap" does not take --history/],
      [['relay', '--room', 'abcd'], /^"relay" does not take --room/],
      [['invite', '--allow', KEY], /^"invite" does not take --allow/],
    ] as const) {
      expect(() => parseFlags(argv, {}), argv.join(' ')).toThrow(
        expect.objectContaining({ exitCode: ExitCode.USAGE, message: expect.stringMatching(message) }),
      )
    }
    expect(parseFlags(['id', '--data-dir', '/tmp/x', '--json'], {}).command).toBe('id')
    expect(parseFlags(['invite', '--dht', '--bootstrap', '127.0.0.1:49737', '--json'], {}).command).toBe(
      'invite',
    )
    expect(
      parseFlags(['relay', '--bootstrap', '127.0.0.1:49737', '--listen', '127.0.0.1:0'], {}).command,
    ).toBe('relay')
    expect(parseFlags(['room', '--help'], {}).help).toBe(true)
  })

  it('gives a bootstrap node no default address: it is reached where --listen puts it', () => {
    expect(parseFlags(['bootstrap'], {}).listen).toBeUndefined()
    expect(parseFlags(['bootstrap', '--listen', '127.0.0.1:0'], {}).listen).toBe('127.0.0.1:0')
    expect(parseFlags([], {}).listen).toBe('127.0.0.1:1235')
  })

  it('tells someone who gave --peer a key cut short that it is a key, not a bad HOST:PORT', () => {
    const cut = `0${'a'.repeat(55)}`
    for (const [argv, message] of [
      [
        ['--peer', cut],
        /^--peer: "0aaaaaaaaaaa…" has 56 hex characters where a key has 64; copy the key again/,
      ],
      [['--peer', `${cut}zz${cut}`], /^--peer: ".*" is not a key: expected 64 hex characters/],
      [['--peer', 'localhost'], /^--peer: .*HOST:PORT/],
      // What `parley invite` prints first goes to --join.
      [
        ['--peer', `parley://127.0.0.1:4001/${'a'.repeat(64)}`],
        /^--peer: "parley:\/\/127\.0\.0\.1:4001\/a+" is an invite: give it to --join \(parley --join INVITE\)/,
      ],
    ] as const) {
      expect(() => parseFlags(argv, {}), argv.join(' ')).toThrow(
        expect.objectContaining({ exitCode: ExitCode.USAGE, message: expect.stringMatching(message) }),
      )
    }
  })
})
