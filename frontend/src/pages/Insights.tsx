import { useSearchParams } from 'react-router-dom'
import { api, unwrap } from '../api/client'
import { BarChart, LineChart } from '../components/Chart'
import { Field } from '../components/Field'
import { QueryView } from '../components/States'
import { days } from '../lib/format'
import { useQuery } from '../lib/hooks'

/** The choices of a filter: every value seen, plus the chosen one while the data loads. */
export function choices(seen: string[] | undefined, chosen: string): string[] {
  const all = new Set(seen ?? [])
  if (chosen) all.add(chosen)
  return [...all].sort((a, b) => a.localeCompare(b))
}

export function InsightsPage() {
  const [params, setParams] = useSearchParams()
  const type = params.get('type') ?? ''
  const project = params.get('project') ?? ''
  const weeks = Number(params.get('weeks') ?? 12)
  const flow = useQuery(
    () =>
      unwrap(
        api.GET('/api/v1/insights/flow', {
          params: { query: { weeks, type: type || undefined, project: project || undefined } },
        }),
      ),
    [type, project, weeks],
  )
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params)
    if (value) next.set(key, value)
    else next.delete(key)
    setParams(next)
  }
  return (
    <>
      <h1>Insights</h1>
      <form className="inline" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Project">
          {(p) => (
            <select {...p} value={project} onChange={(e) => set('project', e.target.value)}>
              <option value="">All projects</option>
              {choices(flow.data?.projects, project).map((x) => (
                <option key={x}>{x}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Work item type">
          {(p) => (
            <select {...p} value={type} onChange={(e) => set('type', e.target.value)}>
              <option value="">All types</option>
              {choices(flow.data?.types, type).map((x) => (
                <option key={x}>{x}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Weeks">
          {(p) => (
            <select {...p} value={String(weeks)} onChange={(e) => set('weeks', e.target.value)}>
              {[4, 12, 26, 52].map((w) => (
                <option key={w}>{w}</option>
              ))}
            </select>
          )}
        </Field>
      </form>
      <QueryView query={flow} isEmpty={(f) => f.weeks.length === 0} empty="No work items resolved in this period.">
        {(f) => (
          <div className="charts">
            <BarChart
              title="Throughput per week"
              unit="items"
              points={f.weeks.map((w) => ({ label: w.week, value: w.throughput }))}
            />
            <LineChart
              title="Cycle time per week"
              unit="days"
              series={[
                { name: 'median', points: f.weeks.map((w) => ({ label: w.week, value: days(w.cycleTimeP50Seconds) })) },
                {
                  name: 'average',
                  points: f.weeks.map((w) => ({ label: w.week, value: days(w.cycleTimeAvgSeconds) })),
                },
              ]}
            />
            <LineChart
              title="Lead time per week"
              unit="days"
              series={[
                { name: 'median', points: f.weeks.map((w) => ({ label: w.week, value: days(w.leadTimeP50Seconds) })) },
                { name: 'average', points: f.weeks.map((w) => ({ label: w.week, value: days(w.leadTimeAvgSeconds) })) },
              ]}
            />
          </div>
        )}
      </QueryView>
    </>
  )
}
