/** Whether `body` names `name` as a word of its own (any case), as in "hi alice" or "@Alice:". */
export function isMention(body: string, name: string): boolean {
  const wanted = name.trim()
  if (wanted === '') return false
  const escaped = wanted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, 'iu').test(body)
}
