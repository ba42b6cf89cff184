import { Link } from 'react-router-dom'
import { api, unwrap, type Run } from '../api/client'
import { BarChart, type Point } from '../components/Chart'
import { Phase } from '../components/bits'
import { RunsTable, totals } from '../components/RunsTable'
import { QueryView } from '../components/States'
import { dayOf } from '../lib/format'
import { useLive, useQuery } from '../lib/hooks'
import { useTimeZone } from '../lib/prefs'

/** Records loaded per day (in the user's zone) over the last `days` days up to `now`, oldest first; a day
 * without runs is a zero, so one busy day reads as one day among quiet ones. */
export function loadedPerDay(runs: Run[], timeZone: string, now = new Date(), days = 14): Point[] {
  const [y, m, d] = dayOf(now.toISOString(), timeZone).split('-').map(Number)
  // Calendar arithmetic on the date itself: no hour is lost or doubled around a daylight-saving change.
  const window = Array.from({ length: days }, (_, i) =>
    new Date(Date.UTC(y, m - 1, d - (days - 1 - i))).toISOString().slice(0, 10),
  )
  const byDay = new Map<string, number>(window.map((day) => [day, 0]))
  for (const run of runs) {
    const day = dayOf(run.finishedAt ?? run.startedAt ?? run.createdAt, timeZone)
    if (byDay.has(day)) byDay.set(day, (byDay.get(day) ?? 0) + totals(run).loaded)
  }
  return window.map((label) => ({ label, value: byDay.get(label) ?? 0 }))
}

export function HomePage() {
  const zone = useTimeZone()
  const integrations = useQuery(() => unwrap(api.GET('/api/v1/integrations')))
  const jobs = useQuery(() => unwrap(api.GET('/api/v1/jobs')))
  const runs = useQuery(() => unwrap(api.GET('/api/v1/runs', { params: { query: { limit: 200 } } })))
  useLive((event) => {
    if (event.kind === 'run') {
      jobs.reload()
      runs.reload()
    }
  })
  return (
    <>
      <h1>Home</h1>
      <div className="cards">
        <section className="card" aria-labelledby="h-integrations">
          <h2 id="h-integrations">Integrations</h2>
          <QueryView query={integrations} empty={<Link to="/integrations">Add an integration</Link>}>
            {(list) => (
              <ul className="plain">
                {list.map((i) => (
                  <li key={i.name}>
                    <Link to="/integrations">{i.name}</Link> <Phase phase={i.phase ?? 'Pending'} />{' '}
                    {!i.credentials.set && <span className="badge bad">no credentials</span>}
                  </li>
                ))}
              </ul>
            )}
          </QueryView>
        </section>
        <section className="card" aria-labelledby="h-jobs">
          <h2 id="h-jobs">Jobs</h2>
          <QueryView query={jobs} empty={<Link to="/jobs">Create a job</Link>}>
            {(list) => (
              <ul className="plain">
                {list.map((j) => (
                  <li key={j.name}>
                    <Link to={`/jobs/${j.name}`}>{j.name}</Link> <Phase phase={j.suspend ? 'Suspended' : j.phase} />
                    {j.progress && <span className="muted"> {j.progress}</span>}
                  </li>
                ))}
              </ul>
            )}
          </QueryView>
        </section>
      </div>
      <section aria-labelledby="h-loaded">
        <h2 id="h-loaded">Records loaded over time</h2>
        <QueryView query={runs} isEmpty={(p) => p.items.length === 0} empty="No runs yet.">
          {(page) => (
            <BarChart
              title="Records loaded per day, last 14 days"
              unit="records"
              points={loadedPerDay(page.items, zone)}
            />
          )}
        </QueryView>
      </section>
      <section aria-labelledby="h-runs">
        <h2 id="h-runs">Recent runs</h2>
        <QueryView query={runs} isEmpty={(p) => p.items.length === 0} empty="No runs yet.">
          {(page) => <RunsTable runs={page.items.slice(0, 10)} caption="The ten latest runs" />}
        </QueryView>
      </section>
    </>
  )
}
