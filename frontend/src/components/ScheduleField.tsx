import { nextRuns } from '../lib/cron'
import { formatTime } from '../lib/format'
import { useTimeZone } from '../lib/prefs'
import { Field } from './Field'

/** The cron check the editor shows: an error, or the next run times. */
export function scheduleCheck(expression: string, now = new Date()): { error?: string; next: Date[] } {
  if (!expression.trim()) return { next: [] }
  try {
    return { next: nextRuns(expression, now, 5) }
  } catch (error) {
    return { error: (error as Error).message, next: [] }
  }
}

export function ScheduleField({
  value,
  onChange,
  error,
}: {
  value: string
  onChange: (v: string) => void
  error?: string
}) {
  const zone = useTimeZone()
  const check = scheduleCheck(value)
  return (
    <Field
      label="Schedule (cron, UTC)"
      error={error ?? check.error}
      hint={
        check.next.length ? (
          <span>
            Next runs ({zone}):{' '}
            <span className="next-runs">{check.next.map((d) => formatTime(d.toISOString(), zone)).join(' · ')}</span>
          </span>
        ) : (
          'Empty: runs only when started.'
        )
      }
    >
      {(p) => <input {...p} value={value} onChange={(e) => onChange(e.target.value)} placeholder="*/30 * * * *" />}
    </Field>
  )
}
