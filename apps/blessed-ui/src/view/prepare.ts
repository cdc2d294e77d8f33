/**
 * What parley-tui does to the terminal before its screen exists: it asks how the terminal draws emoji.
 * Apart from the screen's modules (blessed), so that it starts while they load.
 */
import { type ProbeResult, probeWidths } from './probe.js'
import { onRestore } from './terminal.js'

/** The probe of the terminal's emoji widths, under way while the node thread starts (`prepareTerminal`). */
export interface PreparedTerminal {
  readonly probe: Promise<ProbeResult>
}

/**
 * Asks the terminal how it draws emoji, in raw mode, and puts it back in cooked mode once it answered, with
 * input paused: nothing is drawn, so this runs while the node thread starts, and the probe's round trips to
 * the terminal and the width tables it loads take no start-up time of their own. Until the screen exists,
 * Ctrl-C is a signal as before, and keys typed meanwhile wait for it.
 */
export function prepareTerminal(io: {
  readonly stdin: NodeJS.ReadStream
  readonly stdout: NodeJS.WriteStream
}): PreparedTerminal {
  const { stdin, stdout } = io
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  const cooked = () => {
    if (stdin.isTTY) stdin.setRawMode(false)
  }
  const removeRestore = onRestore(cooked)
  const probe = probeWidths(stdin, stdout).then((result) => {
    stdin.pause()
    removeRestore()
    cooked()
    return result
  })
  return { probe }
}
