import { useSearchParams } from 'react-router-dom'
import { api, unwrap } from '../api/client'
import { BarChart, LineChart } from '../components/Chart'
import { Field } from '../components/Field'
import { QueryView } from '../components/States'
import { days } from '../lib/format'
import { useQuery } from '../lib/hooks'

const TYPES = ['', 'Epic', 'Story', 'Task', 'Bug', 'Sub-task']

export function InsightsPage() {
  const [params, setParams] = useSearchParams()
  const type = params.get('type') ?? ''
  const weeks = Number(params.get('weeks') ?? 12)
  const flow = useQuery(
    () => unwrap(api.GET('/api/v1/insights/flow', { params: { query: { weeks, type: type || undefined } } })),
    [type, weeks],
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
        <Field label="Work item type">
          {(p) => (
            <select {...p} value={type} onChange={(e) => set('type', e.target.value)}>
              {TYPES.map((t) => (
                <option key={t} value={t}>
                  {t || 'All types'}
                </option>
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
