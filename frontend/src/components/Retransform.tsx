import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router-dom'
import { api, unwrap } from '../api/client'
import { useInterval, useLive, useQuery } from '../lib/hooks'
import { Phase } from './bits'

const DONE = new Set(['Succeeded', 'Failed', 'Cancelled'])

async function latestRunId(job: string): Promise<number> {
  const page = await unwrap(
    api.GET('/api/v1/jobs/{name}/runs', { params: { path: { name: job }, query: { limit: 1 } } }),
  )
  return page.items[0]?.id ?? 0
}

/** The run a job started after `after` (its re-transform), kept current without a reload. */
function JobRun({ job, after }: { job: string; after: number }) {
  const [runId, setRunId] = useState<number>()
  const run = useQuery(
    () =>
      runId === undefined
        ? Promise.resolve(undefined)
        : unwrap(api.GET('/api/v1/runs/{run_id}', { params: { path: { run_id: runId } } })),
    [runId],
  )
  const finished = run.data ? DONE.has(run.data.phase) : false

  async function look() {
    if (runId !== undefined) {
      if (!finished) run.reload()
      return
    }
    const page = await unwrap(
      api.GET('/api/v1/jobs/{name}/runs', { params: { path: { name: job }, query: { limit: 5 } } }),
    ).catch(() => undefined)
    const started = page?.items.filter((r) => r.id > after && r.trigger === 'retransform').pop()
    if (started) setRunId(started.id)
  }
  useLive((event) => event.kind === 'run' && look())
  useInterval(look, 2000)

  return (
    <li>
      <Link to={`/jobs/${job}`}>{job}</Link>:{' '}
      {runId === undefined ? (
        <span className="muted">waiting for the run to start…</span>
      ) : (
        <>
          <Link to={`/runs/${runId}`}>run #{runId}</Link>{' '}
          <span data-testid={`retransform-phase-${job}`}>
            <Phase phase={run.data?.phase ?? 'Pending'} />
          </span>
        </>
      )}
    </li>
  )
}

/**
 * After a mapping is saved: the jobs whose stored rows it changes, and a button that re-transforms
 * them from their raw pages (no call to the source), then their runs as they go.
 */
export function RetransformOffer({ jobs, what, onClose }: { jobs: string[]; what: string; onClose: () => void }) {
  const [chosen, setChosen] = useState<string[]>(jobs)
  const [started, setStarted] = useState<Record<string, number> | null>(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [])

  async function start() {
    setBusy(true)
    setError('')
    try {
      const before = Object.fromEntries(await Promise.all(chosen.map(async (j) => [j, await latestRunId(j)] as const)))
      const out = await unwrap(api.POST('/api/v1/mappings/retransform', { body: { jobs: chosen } }))
      setStarted(Object.fromEntries(out.jobs.map((j) => [j, before[j] ?? 0])))
    } catch (e) {
      setError((e as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="panel offer" aria-labelledby="h-retransform">
      <h2 id="h-retransform" ref={heading} tabIndex={-1}>
        Saved {what}
      </h2>
      {jobs.length === 0 ? (
        <p>No job extracts work items yet: the change applies from their first run.</p>
      ) : started ? (
        <>
          <p>Re-transforming from the stored raw pages:</p>
          <ul className="plain" aria-live="polite">
            {Object.entries(started).map(([job, after]) => (
              <JobRun key={job} job={job} after={after} />
            ))}
          </ul>
        </>
      ) : (
        <>
          <p>
            New runs use it. To rewrite the rows already loaded, re-transform the jobs that extract work items (from
            their stored raw pages; Jira is not called again).
          </p>
          <fieldset>
            <legend>Jobs to re-transform</legend>
            {jobs.map((job) => (
              <label key={job} className="check">
                <input
                  type="checkbox"
                  checked={chosen.includes(job)}
                  onChange={(e) => setChosen(e.target.checked ? [...chosen, job] : chosen.filter((j) => j !== job))}
                />{' '}
                {job}
              </label>
            ))}
          </fieldset>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
        </>
      )}
      <div className="actions">
        {!started && jobs.length > 0 && (
          <button type="button" className="primary" onClick={start} disabled={busy || chosen.length === 0}>
            Re-transform now
          </button>
        )}
        <button type="button" onClick={onClose}>
          {started ? 'Close' : 'Not now'}
        </button>
      </div>
    </section>
  )
}
