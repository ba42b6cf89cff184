import { Link } from 'react-router-dom'
import type { Run } from '../api/client'
import { formatDuration, formatNumber } from '../lib/format'
import { Phase, Time } from './bits'
import { Table } from './Table'

export function totals(run: Run): { extracted: number; loaded: number; failed: number } {
  const counts = Object.values(run.counts ?? {})
  return {
    extracted: counts.reduce((n, c) => n + (c.extracted ?? 0), 0),
    loaded: counts.reduce((n, c) => n + (c.loaded ?? 0), 0),
    failed: counts.reduce((n, c) => n + (c.failed ?? 0), 0),
  }
}

export function RunsTable({ runs, caption, showJob = true }: { runs: Run[]; caption: string; showJob?: boolean }) {
  return (
    <Table
      caption={caption}
      columns={[
        'Run',
        ...(showJob ? ['Job'] : []),
        'Phase',
        'Trigger',
        'Started',
        'Duration',
        'Loaded',
        'Attempts',
        'Error',
      ]}
    >
      {runs.map((run) => {
        const t = totals(run)
        return (
          <tr key={run.id}>
            <td>
              <Link to={`/runs/${run.id}`}>#{run.id}</Link>
            </td>
            {showJob && (
              <td>
                <Link to={`/jobs/${run.job}`}>{run.job}</Link>
              </td>
            )}
            <td>
              <Phase phase={run.phase} />
            </td>
            <td>{run.trigger}</td>
            <td>
              <Time value={run.startedAt ?? run.createdAt} />
            </td>
            <td>{formatDuration(run.durationSeconds)}</td>
            <td>{formatNumber(t.loaded)}</td>
            <td>
              {run.attempt}/{run.maxAttempts}
            </td>
            <td className="error-cell">{run.error ?? (run.deadLetters ? `${run.deadLetters} dead letters` : '')}</td>
          </tr>
        )
      })}
    </Table>
  )
}
