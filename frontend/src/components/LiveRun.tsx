import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router-dom'
import { api, unwrap, type EntityCounts, type Run } from '../api/client'
import { formatDuration, plural } from '../lib/format'
import { useLive, useQuery } from '../lib/hooks'
import { Phase, Progress, Time } from './bits'
import { totals } from './RunsTable'

const DONE = new Set(['Succeeded', 'Failed', 'Cancelled'])

/** Records per second over the samples of the last `window` ms. */
export function rate(samples: { t: number; n: number }[], window = 10_000): number {
  if (samples.length < 2) return 0
  const last = samples[samples.length - 1]
  const first = samples.find((s) => s.t >= last.t - window) ?? samples[0]
  const dt = (last.t - first.t) / 1000
  return dt > 0 ? (last.n - first.n) / dt : 0
}

/** One run, kept current by the WebSocket: phase, waits, and counters per entity and stage. */
export function LiveRun({
  runId,
  onPhase,
  title,
}: {
  runId: number
  onPhase?: (phase: string) => void
  /** The panel's heading; by default "Current run" or "Latest run" (a job's page). */
  title?: string
}) {
  const run = useQuery(() => unwrap(api.GET('/api/v1/runs/{run_id}', { params: { path: { run_id: runId } } })), [runId])
  const [counts, setCounts] = useState<Record<string, EntityCounts>>({})
  const samples = useRef<{ t: number; n: number }[]>([])
  const [perSecond, setPerSecond] = useState(0)

  useEffect(() => {
    setCounts({})
    samples.current = []
    setPerSecond(0)
  }, [runId])

  useEffect(() => {
    if (run.data) onPhase?.(run.data.phase)
  }, [run.data, onPhase])

  const connected = useLive((event) => {
    if (event.kind === 'subscribed' || event.runId !== runId) return
    if (event.kind === 'run') run.reload()
    if (event.kind === 'counters') {
      const { entity, pages, extracted, transformed, loaded, failed } = event
      setCounts((c) => {
        const next = { ...c, [entity]: { pages, extracted, transformed, loaded, failed } }
        const n = Object.values(next).reduce((s, x) => s + (x.loaded ?? 0), 0)
        samples.current = [...samples.current.slice(-50), { t: Date.now(), n }]
        setPerSecond(rate(samples.current))
        return next
      })
    }
  })

  if (!run.data)
    return run.error ? (
      <p role="alert">
        Run #{runId}: {run.error.message}
      </p>
    ) : (
      <p role="status">Loading run…</p>
    )
  const data: Run = run.data
  const merged = { ...(data.counts ?? {}), ...counts }
  const entities = Object.keys(merged).length ? Object.keys(merged) : data.entities
  const finished = DONE.has(data.phase)
  return (
    <section className="panel live" aria-labelledby={`live-${runId}`}>
      <h2 id={`live-${runId}`}>
        {title ?? (
          <>
            {finished ? 'Latest run' : 'Current run'} <Link to={`/runs/${runId}`}>#{runId}</Link>
          </>
        )}{' '}
        <span data-testid="run-phase">
          <Phase phase={data.phase} />
        </span>
      </h2>
      <p className="muted">
        {data.trigger} · {data.mode} · attempt {data.attempt}/{data.maxAttempts} · started{' '}
        <Time value={data.startedAt} />
        {' · '}
        {formatDuration(data.durationSeconds)}
        {!finished && (
          <>
            {' · '}
            <span aria-live="off">{perSecond.toFixed(1)} records/s</span>
          </>
        )}
        {' · '}
        <span className={connected ? 'ok-text' : 'muted'}>{connected ? 'live' : 'connecting…'}</span>
      </p>
      {data.waitingReason && !finished && (
        <p className="wait" role="status">
          Waiting: {data.waitingReason}
          {data.waitingUntil && (
            <>
              {' '}
              until <Time value={data.waitingUntil} />
            </>
          )}
        </p>
      )}
      {data.error && <p className="form-error">{data.error}</p>}
      <div className="entities">
        {entities.map((entity) => {
          const c = merged[entity] ?? { pages: 0, extracted: 0, transformed: 0, loaded: 0, failed: 0 }
          const extracted = c.extracted ?? 0
          // A re-transform extracts nothing: it replays stored pages, so what it transformed is the whole.
          const replay = data.trigger === 'retransform'
          const whole = replay ? (c.transformed ?? 0) : extracted
          return (
            <div key={entity} className="entity">
              <h3>{entity}</h3>
              {replay ? (
                <p className="muted">replayed from stored raw pages</p>
              ) : (
                <Progress
                  label={`${entity} extracted (${plural(c.pages ?? 0, 'page')})`}
                  value={extracted}
                  max={extracted}
                />
              )}
              <Progress label={`${entity} transformed`} value={c.transformed ?? 0} max={whole} />
              <Progress label={`${entity} loaded`} value={c.loaded ?? 0} max={whole} />
              {(c.failed ?? 0) > 0 && <p className="form-error">{c.failed} failed</p>}
            </div>
          )
        })}
      </div>
      <p className="muted">Loaded in total: {totals({ ...data, counts: merged }).loaded.toLocaleString('en-US')}</p>
    </section>
  )
}
