/** Starts a timer that does not keep the process alive; the returned function cancels it. */
export function unrefTimeout(callback: () => void, ms: number): () => void {
  const timer = setTimeout(callback, ms)
  timer.unref()
  return () => clearTimeout(timer)
}
