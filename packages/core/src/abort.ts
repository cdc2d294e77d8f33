/** What of an `AbortSignal` this needs (core is written against no platform's types). */
export interface Abortable {
  readonly aborted: boolean
  readonly reason?: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/**
 * Settles as `promise` does, or rejects with the signal's reason once `signal` aborts: the step it waits
 * for runs on, its outcome ignored. Lets a start that waits on the network (a DHT join) be stopped at once.
 * @example await untilAborted(dht.ready(), signal)
 */
export function untilAborted<T>(promise: Promise<T>, signal: Abortable | undefined): Promise<T> {
  if (signal === undefined) return promise
  promise.catch(() => undefined)
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
