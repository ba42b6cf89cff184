/**
 * The next times a five-field cron expression fires (minute hour day-of-month month day-of-week),
 * evaluated in UTC as the controller does. Supports `*`, lists, ranges, steps and `@hourly`-style
 * shortcuts; throws on anything else, which the schedule editor shows inline.
 */
const SHORTCUTS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

const BOUNDS: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
]

function field(text: string, [lo, hi]: [number, number]): Set<number> {
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/')
    const step = stepText === undefined ? 1 : Number(stepText)
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in "${part}"`)
    let start = lo
    let end = hi
    if (range !== '*') {
      const [a, b] = range.split('-')
      start = Number(a)
      end = b === undefined ? (stepText === undefined ? start : hi) : Number(b)
    }
    if (![start, end].every(Number.isInteger) || start < lo || end > hi || start > end) {
      throw new Error(`"${part}" is outside ${lo}-${hi}`)
    }
    for (let v = start; v <= end; v += step) out.add(v)
  }
  return out
}

export function nextRuns(expression: string, from: Date, count = 5): Date[] {
  const text = SHORTCUTS[expression.trim()] ?? expression.trim()
  const parts = text.split(/\s+/)
  if (parts.length !== 5) throw new Error('a schedule has five fields: minute hour day month weekday')
  const [minutes, hours, doms, months, dows] = parts.map((p, i) => field(p, BOUNDS[i]))
  if (dows.has(7)) dows.add(0)
  const domAny = parts[2] === '*'
  const dowAny = parts[4] === '*'
  const out: Date[] = []
  const t = new Date(from.getTime())
  t.setUTCSeconds(0, 0)
  t.setUTCMinutes(t.getUTCMinutes() + 1)
  const limit = from.getTime() + 5 * 366 * 86400_000
  while (out.length < count && t.getTime() < limit) {
    const dayMatch =
      domAny || dowAny
        ? doms.has(t.getUTCDate()) && dows.has(t.getUTCDay())
        : doms.has(t.getUTCDate()) || dows.has(t.getUTCDay())
    if (!months.has(t.getUTCMonth() + 1) || !dayMatch) {
      t.setUTCHours(24, 0, 0, 0)
    } else if (!hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0)
    } else if (!minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0)
    } else {
      out.push(new Date(t.getTime()))
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0)
    }
  }
  return out
}
