import { useCallback, useState, type FormEvent } from 'react'
import { Link, useParams } from 'react-router-dom'
import { api, ApiError, unwrap, type Job, type Run } from '../api/client'
import { LiveRun } from '../components/LiveRun'
import { RunsTable } from '../components/RunsTable'
import { ScheduleField, scheduleCheck } from '../components/ScheduleField'
import { Phase, Time } from '../components/bits'
import { ErrorState, Loading, QueryView } from '../components/States'
import { useInterval, useLive, useQuery } from '../lib/hooks'
import { useCanEdit } from '../lib/me'

export type Action = 'run' | 'pause' | 'resume' | 'stop' | 'retransform'

/** Start, pause or resume, stop and re-transform for editors; a viewer only reads. */
export function JobActions({ suspended, onAction }: { suspended: boolean; onAction: (action: Action) => void }) {
  const canEdit = useCanEdit()
  return (
    <div className="actions" role="group" aria-label="Job actions">
      {canEdit ? (
        <>
          <button type="button" className="primary" onClick={() => onAction('run')}>
            Start run
          </button>
          {suspended ? (
            <button type="button" onClick={() => onAction('resume')}>
              Resume
            </button>
          ) : (
            <button type="button" onClick={() => onAction('pause')}>
              Pause
            </button>
          )}
          <button type="button" className="danger" onClick={() => onAction('stop')}>
            Stop
          </button>
          <button type="button" onClick={() => onAction('retransform')}>
            Re-transform
          </button>
        </>
      ) : (
        <span className="muted">Starting, stopping and scheduling this job needs the editor role.</span>
      )}
      <Link to="/data">Work items</Link>
    </div>
  )
}

function ScheduleEditor({ job, onSaved }: { job: Job; onSaved: () => void }) {
  const [schedule, setSchedule] = useState(job.schedule ?? '')
  const [error, setError] = useState<string>()
  const [saved, setSaved] = useState('')
  async function submit(event: FormEvent) {
    event.preventDefault()
    const check = scheduleCheck(schedule)
    setError(check.error)
    setSaved('')
    if (check.error) return
    try {
      await unwrap(
        api.PUT('/api/v1/jobs/{name}', {
          params: { path: { name: job.name } },
          body: {
            integration: job.integration,
            entities: job.entities as Job['entities'] as never,
            mode: job.mode as 'full' | 'incremental',
            schedule: schedule.trim() || null,
            suspend: job.suspend ?? false,
          },
        }),
      )
      setSaved('Schedule saved.')
      onSaved()
    } catch (e) {
      setError(e instanceof ApiError ? (e.fields.schedule ?? e.message) : String(e))
    }
  }
  return (
    <form onSubmit={submit} noValidate className="panel" aria-label="Schedule">
      <h2>Schedule</h2>
      <ScheduleField value={schedule} onChange={setSchedule} error={error} />
      <div className="actions">
        <button type="submit">Save schedule</button>
        <span role="status">{saved}</span>
      </div>
    </form>
  )
}

export function JobPage() {
  const { name = '' } = useParams()
  const job = useQuery(() => unwrap(api.GET('/api/v1/jobs/{name}', { params: { path: { name } } })), [name])
  const [cursor, setCursor] = useState<string | null>(null)
  const [older, setOlder] = useState<Run[]>([])
  const runs = useQuery(
    () => unwrap(api.GET('/api/v1/jobs/{name}/runs', { params: { path: { name }, query: { limit: 20 } } })),
    [name],
  )
  const [notice, setNotice] = useState('')
  const canEdit = useCanEdit()
  const refresh = useCallback(() => {
    job.reload()
    runs.reload()
  }, [job, runs])
  useLive((event) => event.kind === 'run' && refresh())
  useInterval(refresh, 15000)

  async function act(action: Action) {
    setNotice('')
    const path = { params: { path: { name } } }
    try {
      const out =
        action === 'run'
          ? await unwrap(api.POST('/api/v1/jobs/{name}/run', path))
          : action === 'pause'
            ? await unwrap(api.POST('/api/v1/jobs/{name}/pause', path))
            : action === 'resume'
              ? await unwrap(api.POST('/api/v1/jobs/{name}/resume', path))
              : action === 'stop'
                ? await unwrap(api.POST('/api/v1/jobs/{name}/stop', path))
                : await unwrap(api.POST('/api/v1/jobs/{name}/retransform', path))
      const cancelled = out.cancelledRunIds?.length ? ` (cancelled run ${out.cancelledRunIds.join(', ')})` : ''
      setNotice(`${action} requested${cancelled}.`)
    } catch (error) {
      setNotice(`${action} failed: ${(error as Error).message}`)
    }
    refresh()
  }

  async function loadOlder() {
    const page = await unwrap(
      api.GET('/api/v1/jobs/{name}/runs', {
        params: {
          path: { name },
          query: { limit: 20, cursor: (older.length ? cursor : runs.data?.nextCursor) ?? undefined },
        },
      }),
    )
    setOlder((o) => [...o, ...page.items])
    setCursor(page.nextCursor ?? null)
  }

  if (!job.data) return job.error ? <ErrorState error={job.error} retry={job.reload} /> : <Loading />
  const j = job.data
  const latest = j.currentRunId ?? runs.data?.items[0]?.id
  const nextCursor = older.length ? cursor : (runs.data?.nextCursor ?? null)
  return (
    <>
      <p>
        <Link to="/jobs">← Jobs</Link>
      </p>
      <h1>
        {j.name} <Phase phase={j.suspend ? 'Suspended' : j.phase} />
      </h1>
      <dl className="facts">
        <dt>Integration</dt>
        <dd>{j.integration}</dd>
        <dt>Entities</dt>
        <dd>{j.entities.join(', ')}</dd>
        <dt>Mode</dt>
        <dd>{j.mode}</dd>
        <dt>Schedule</dt>
        <dd>{j.schedule ? <code>{j.schedule}</code> : 'none: runs only when started'}</dd>
        <dt>Progress</dt>
        <dd>{j.progress || '—'}</dd>
        <dt>Last success</dt>
        <dd>
          <Time value={j.lastSuccessfulTime} />
        </dd>
        <dt>Next scheduled run</dt>
        <dd>
          <Time value={j.nextScheduleTime} />
        </dd>
      </dl>
      {j.message && <p className="muted">{j.message}</p>}
      <JobActions suspended={Boolean(j.suspend)} onAction={act} />
      <p role="status" className="notice">
        {notice}
      </p>
      {latest != null && <LiveRun runId={latest} />}
      {canEdit && <ScheduleEditor key={j.schedule ?? ''} job={j} onSaved={job.reload} />}
      <section aria-labelledby="h-history">
        <h2 id="h-history">Run history</h2>
        <QueryView query={runs} isEmpty={(p) => p.items.length === 0} empty="This job has not run yet.">
          {(page) => (
            <RunsTable runs={[...page.items, ...older]} caption={`Runs of ${j.name}, newest first`} showJob={false} />
          )}
        </QueryView>
        {nextCursor && (
          <button type="button" onClick={loadOlder}>
            Older runs
          </button>
        )}
      </section>
    </>
  )
}
