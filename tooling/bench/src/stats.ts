/** The value below which `fraction` of the samples fall (nearest rank); NaN for no samples. */
export function percentile(samples: readonly number[], fraction: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))
  return sorted[rank]!
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 0.5)
}

/** A ratio that stays readable when a figure is missing. */
export function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || !(denominator > 0)) return undefined
  if (!Number.isFinite(numerator)) return undefined
  return numerator / denominator
}

export function round(value: number | undefined, digits: number): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}
