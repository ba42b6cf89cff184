import { useRef, useState } from 'react'
import { Link } from 'react-router-dom'
import { api, unwrap, type Schemas } from '../api/client'
import { Time } from '../components/bits'
import { QueryView } from '../components/States'
import { useInterval, useQuery } from '../lib/hooks'
import { useCanEdit } from '../lib/me'
import { Table } from '../components/Table'

type Queues = Schemas['QueuesOut']

/** Messages per second a stage's queue drains (positive) or grows (negative) between two samples. */
export function drainRates(before: Queues | undefined, after: Queues, seconds: number): Record<string, number> {
  const out: Record<string, number> = {}
  if (!before || seconds <= 0) return out
  for (const q of after.queues) {
    const old = before.queues.find((b) => b.stage === q.stage)
    if (old) out[q.stage] = (old.ready + old.unacked - (q.ready + q.unacked)) / seconds
  }
  return out
}

export function QueuesPage() {
  const canEdit = useCanEdit()
  const queues = useQuery(() => unwrap(api.GET('/api/v1/queues')))
  const letters = useQuery(() => unwrap(api.GET('/api/v1/dead-letters', { params: { query: { limit: 200 } } })))
  const previous = useRef<{ at: number; data: Queues }>(undefined)
  const [rates, setRates] = useState<Record<string, number>>({})
  const [notice, setNotice] = useState('')

  useInterval(async () => {
    try {
      const data = await unwrap(api.GET('/api/v1/queues'))
      const now = Date.now()
      if (previous.current) setRates(drainRates(previous.current.data, data, (now - previous.current.at) / 1000))
      previous.current = { at: now, data }
      queues.reload()
      letters.reload()
    } catch {
      queues.reload()
    }
  }, 3000)

  async function act(id: number, action: 'replay' | 'discard') {
    try {
      if (action === 'replay')
        await unwrap(api.POST('/api/v1/dead-letters/{letter_id}/replay', { params: { path: { letter_id: id } } }))
      else await unwrap(api.DELETE('/api/v1/dead-letters/{letter_id}', { params: { path: { letter_id: id } } }))
      setNotice(`Dead letter ${id} ${action === 'replay' ? 'replayed' : 'discarded'}.`)
    } catch (error) {
      setNotice(`${action} of ${id} failed: ${(error as Error).message}`)
    }
    letters.reload()
  }

  return (
    <>
      <h1>Queues</h1>
      <QueryView query={queues}>
        {(q) => (
          <>
            <p className="muted">Queue backend: {q.backend}</p>
            <Table
              caption="Depth per stage (all tenants)"
              columns={['Stage', 'Ready', 'In flight', 'Delayed', 'Dead', 'Drain rate']}
            >
              {q.queues.map((s) => (
                <tr key={s.stage}>
                  <th scope="row">{s.stage}</th>
                  <td>{s.ready}</td>
                  <td>{s.unacked}</td>
                  <td>{s.delayed}</td>
                  <td>{s.dead}</td>
                  <td>{rates[s.stage] === undefined ? '—' : `${rates[s.stage].toFixed(1)} msg/s`}</td>
                </tr>
              ))}
            </Table>
            <h2>Workers</h2>
            {q.workers.length === 0 ? (
              <p className="state empty">No worker pools recorded yet.</p>
            ) : (
              <Table
                caption="Worker replicas and the scaler's last decision"
                columns={['Job', 'Stage', 'Replicas', 'Desired', 'Queue depth', 'Last decision']}
              >
                {q.workers.map((w) => (
                  <tr key={`${w.job}/${w.stage}`}>
                    <td>
                      <Link to={`/jobs/${w.job}`}>{w.job}</Link>
                    </td>
                    <td>{w.stage}</td>
                    <td>{w.replicas ?? '—'}</td>
                    <td>{w.desired ?? '—'}</td>
                    <td>{w.queueDepth ?? '—'}</td>
                    <td className="wrap">{w.reason ?? '—'}</td>
                  </tr>
                ))}
              </Table>
            )}
          </>
        )}
      </QueryView>
      <h2>Dead letters</h2>
      {!canEdit && <p className="muted">Replaying or discarding a dead letter needs the editor role.</p>}
      <p role="status" className="notice">
        {notice}
      </p>
      <QueryView query={letters} empty="No dead letters: every message went through.">
        {(list) => (
          <Table
            caption="Dead letters of this tenant"
            columns={['Id', 'Stage', 'Run', 'Attempts', 'Error', 'Since', ...(canEdit ? ['Actions'] : [])]}
          >
            {list.map((d) => (
              <tr key={d.id} data-testid={`dead-letter-${d.id}`}>
                <th scope="row">{d.id}</th>
                <td>{d.stage}</td>
                <td>{d.runId ? <Link to={`/runs/${d.runId}`}>#{d.runId}</Link> : '—'}</td>
                <td>{d.attempts}</td>
                <td className="wrap error-cell">{d.error}</td>
                <td>
                  <Time value={d.createdAt} />
                </td>
                {canEdit && (
                  <td className="actions">
                    <button type="button" onClick={() => act(d.id, 'replay')} aria-label={`Replay dead letter ${d.id}`}>
                      Replay
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => act(d.id, 'discard')}
                      aria-label={`Discard dead letter ${d.id}`}
                    >
                      Discard
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </>
  )
}
