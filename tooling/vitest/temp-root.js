// Global setup of every package's tests: one folder under the system temp dir for the whole run. The
// testkit's tempDir() makes its folders inside it (data dirs, XDG homes, logs of spawned nodes), and it
// is removed when the run ends, whether the tests passed or not, so runs do not leave them behind.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup() {
  // Each project of a run calls this; the first one makes the folder and removes it at the end.
  if (process.env.PARLEY_TEST_TMP) return undefined
  const root = mkdtempSync(join(tmpdir(), 'parley-test-'))
  process.env.PARLEY_TEST_TMP = root
  // A parley run under other V8 flags than its build keeps a code cache in the user's cache dir: in the
  // run's folder, not in the home of whoever runs the tests.
  const cacheHome = process.env.XDG_CACHE_HOME
  process.env.XDG_CACHE_HOME = join(root, 'xdg-cache')
  return () => {
    rmSync(root, { recursive: true, force: true, maxRetries: 3 })
    delete process.env.PARLEY_TEST_TMP
    if (cacheHome === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = cacheHome
  }
}
