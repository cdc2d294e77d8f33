let cached: { name: string; pattern: RegExp } | undefined

/** Whether `body` names `name` as a word of its own (any case), as in "hi alice" or "@Alice:". */
export function isMention(body: string, name: string): boolean {
  const wanted = name.trim()
  if (wanted === '') return false
  if (cached?.name !== wanted) {
    const escaped = wanted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    cached = { name: wanted, pattern: new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, 'iu') }
  }
  // Most lines do not contain the name at all: a plain search is much cheaper than the pattern.
  if (!body.toLowerCase().includes(wanted.toLowerCase())) return false
  return cached.pattern.test(body)
}
