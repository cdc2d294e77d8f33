import type { BenchCase } from '../pair.js'
import {
  dhtCase,
  dhtDurableCase,
  plainCase,
  plainLinesCase,
  secureCase,
  secureDurableCase,
  secureNoStoreCase,
  secureUnsignedCase,
} from './parley.js'
import { rawCase, rawUnwindowedCase } from './raw.js'
import { secretStreamCase } from './secret-stream.js'

/** Every case, in the order the table shows them. */
export const CASES: readonly BenchCase[] = [
  rawCase,
  rawUnwindowedCase,
  secretStreamCase,
  plainCase,
  plainLinesCase,
  secureUnsignedCase,
  secureCase,
  secureNoStoreCase,
  secureDurableCase,
  dhtCase,
  dhtDurableCase,
]
