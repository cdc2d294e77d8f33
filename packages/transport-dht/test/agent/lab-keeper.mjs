#!/usr/bin/env node
// Builds a NAT lab, prints its namespaces, and waits: a test then interrupts or kills it to check the lab is
// removed either way. Usage: lab-keeper.mjs
import { buildLab } from '@parley/netlab'

const lab = await buildLab()
process.stdout.write(`${JSON.stringify({ event: 'built', namespaces: Object.values(lab.namespaces) })}\n`)
process.stdin.resume()
process.stdin.on('end', () => lab.destroy())
