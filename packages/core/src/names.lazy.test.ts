/**
 * The look-alike table (100 KB) is loaded only for a name outside ASCII: a file of its own, so that no
 * other test has loaded it first in this module's copy of the names module.
 */
import { createRequire } from 'node:module'
import { expect, it } from 'vitest'
import { nameKey, namesakes } from './names.js'

it('keys ASCII names without loading the look-alike table, and loads it for the first name outside ASCII', () => {
  const require = createRequire(import.meta.url)
  const table = require.resolve('unhomoglyph/data.json')
  delete require.cache[table]
  expect(
    namesakes({ id: 'a', name: 'Bob' }, [
      { id: 'b', name: 'b0b' },
      { id: 'c', name: 'carol' },
    ]),
  ).toEqual(['b'])
  expect(nameKey('I1|l')).toBe(nameKey('llll'))
  expect(require.cache[table]).toBeUndefined()
  expect(nameKey('bоb')).toBe(nameKey('bob'))
  expect(require.cache[table]).toBeDefined()
})
