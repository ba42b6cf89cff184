import { formatTime } from '../lib/format'
import { useTimeZone } from '../lib/prefs'

export function Time({ value }: { value: string | null | undefined }) {
  const zone = useTimeZone()
  if (!value) return <span>—</span>
  return (
    <time dateTime={value} title={`${zone}`}>
      {formatTime(value, zone)}
    </time>
  )
}

const TONES: Record<string, string> = {
  Succeeded: 'ok',
  Ready: 'ok',
  Running: 'busy',
  Extracting: 'busy',
  Processing: 'busy',
  Pending: 'busy',
  Waiting: 'warn',
  Retrying: 'warn',
  Suspended: 'warn',
  Cancelled: 'muted',
  Failed: 'bad',
  NotReady: 'bad',
}

export function Phase({ phase }: { phase: string | null | undefined }) {
  const text = phase ?? 'Unknown'
  return <span className={`badge ${TONES[text] ?? 'muted'}`}>{text}</span>
}

export function Progress({ label, value, max }: { label: string; value: number; max: number }) {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0
  return (
    <div className="progress">
      <span className="progress-label">
        {label}: {value.toLocaleString('en-US')}
        {max > 0 ? ` / ${max.toLocaleString('en-US')}` : ''}
      </span>
      <progress aria-label={label} max={Math.max(max, 1)} value={Math.min(value, Math.max(max, 1))}>
        {pct}%
      </progress>
    </div>
  )
}
