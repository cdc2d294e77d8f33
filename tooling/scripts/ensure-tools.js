#!/usr/bin/env node
// Installs the system tools the test suite drives (tmux for the TUI tests, nc for plain-mode interop,
// ip and iptables for the NAT lab in network namespaces, strace to kill a process at a chosen system
// call) when they are missing, so the test command works on a fresh machine.
import { execFileSync, spawnSync } from 'node:child_process'

const needed = [
  { command: 'tmux', apt: 'tmux' },
  { command: 'nc', apt: 'netcat-openbsd' },
  { command: 'ip', apt: 'iproute2' },
  { command: 'iptables', apt: 'iptables' },
  { command: 'strace', apt: 'strace' },
]

const missing = needed.filter(({ command }) => spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0)
if (missing.length === 0) process.exit(0)

const names = missing.map((m) => m.apt)
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
if (!isRoot) {
  console.error(
    `ensure-tools: the tests need ${names.join(', ')}; install them with: sudo apt-get install -y ${names.join(' ')}`,
  )
  process.exit(1)
}
console.error(`ensure-tools: installing ${names.join(', ')}`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
execFileSync('apt-get', ['install', '-y', '-qq', ...names], { stdio: 'inherit', env })
