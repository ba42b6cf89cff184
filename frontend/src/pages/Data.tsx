import { useState, type FormEvent } from 'react'
import { useSearchParams } from 'react-router-dom'
import { api, unwrap } from '../api/client'
import { Field } from '../components/Field'
import { Time } from '../components/bits'
import { QueryView } from '../components/States'
import { formatDuration } from '../lib/format'
import { useQuery } from '../lib/hooks'
import { Table } from '../components/Table'

/** Loaded work items and pull requests: text search in keys and titles, filters, keyset paging. */
export function DataPage() {
  const [params, setParams] = useSearchParams()
  const tab = params.get('tab') === 'pulls' ? 'pulls' : 'items'
  const q = params.get('q') ?? ''
  const status = params.get('status') ?? ''
  const [text, setText] = useState(q)
  const [cursors, setCursors] = useState<string[]>([])
  const cursor = cursors[cursors.length - 1]
  const items = useQuery<{ items: unknown[]; nextCursor?: string | null }>(
    () =>
      tab === 'items'
        ? unwrap(
            api.GET('/api/v1/work-items', {
              params: { query: { q: q || undefined, status: status || undefined, limit: 25, cursor } },
            }),
          )
        : unwrap(api.GET('/api/v1/pull-requests', { params: { query: { q: q || undefined, limit: 25, cursor } } })),
    [tab, q, status, cursor],
  )

  function search(event: FormEvent) {
    event.preventDefault()
    setCursors([])
    const next = new URLSearchParams(params)
    if (text.trim()) next.set('q', text.trim())
    else next.delete('q')
    setParams(next)
  }
  function choose(next: Record<string, string>) {
    setCursors([])
    const merged = new URLSearchParams(params)
    for (const [k, v] of Object.entries(next)) {
      if (v) merged.set(k, v)
      else merged.delete(k)
    }
    setParams(merged)
  }

  return (
    <>
      <h1>{tab === 'items' ? 'Work items' : 'Pull requests'}</h1>
      <div className="tabs" role="group" aria-label="What to show">
        <button type="button" aria-pressed={tab === 'items'} onClick={() => choose({ tab: '' })}>
          Work items
        </button>
        <button type="button" aria-pressed={tab === 'pulls'} onClick={() => choose({ tab: 'pulls', status: '' })}>
          Pull requests
        </button>
      </div>
      <form role="search" onSubmit={search} className="inline">
        <Field label="Search keys and titles">
          {(p) => <input {...p} type="search" value={text} onChange={(e) => setText(e.target.value)} />}
        </Field>
        {tab === 'items' && (
          <Field label="Status">
            {(p) => (
              <select {...p} value={status} onChange={(e) => choose({ status: e.target.value })}>
                <option value="">Any</option>
                <option>To Do</option>
                <option>In Progress</option>
                <option>Done</option>
              </select>
            )}
          </Field>
        )}
        <button type="submit">Search</button>
      </form>
      <QueryView
        query={items}
        isEmpty={(p) => p.items.length === 0}
        empty={q ? `Nothing matches “${q}”.` : 'Nothing loaded yet.'}
      >
        {(page) => (
          <>
            {tab === 'items' ? (
              <Table
                caption={`Work items${q ? ` matching “${q}”` : ''}`}
                columns={['Key', 'Title', 'Type', 'Status', 'Source status', 'Cycle time', 'Updated']}
              >
                {(
                  page.items as {
                    id: number
                    key?: string
                    title?: string | null
                    type?: string | null
                    status?: string | null
                    sourceStatus?: string | null
                    cycleTimeSeconds?: number | null
                    updatedAt?: string | null
                  }[]
                ).map((w) => (
                  <tr key={w.id}>
                    <th scope="row">{w.key}</th>
                    <td className="wrap">{w.title}</td>
                    <td>{w.type ?? '—'}</td>
                    <td>{w.status ?? '—'}</td>
                    <td>{w.sourceStatus ?? '—'}</td>
                    <td>{formatDuration(w.cycleTimeSeconds)}</td>
                    <td>
                      <Time value={w.updatedAt} />
                    </td>
                  </tr>
                ))}
              </Table>
            ) : (
              <Table
                caption={`Pull requests${q ? ` matching “${q}”` : ''}`}
                columns={['Repository', 'Number', 'Title', 'State', 'Merged']}
              >
                {(
                  page.items as {
                    id: number
                    repository?: string
                    number?: number
                    title?: string | null
                    state?: string | null
                    mergedAt?: string | null
                  }[]
                ).map((p) => (
                  <tr key={p.id}>
                    <td>{p.repository}</td>
                    <th scope="row">#{p.number}</th>
                    <td className="wrap">{p.title}</td>
                    <td>{p.state}</td>
                    <td>
                      <Time value={p.mergedAt} />
                    </td>
                  </tr>
                ))}
              </Table>
            )}
            <div className="actions">
              {cursors.length > 0 && (
                <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
                  Previous
                </button>
              )}
              {page.nextCursor && (
                <button type="button" onClick={() => setCursors([...cursors, page.nextCursor!])}>
                  Next
                </button>
              )}
            </div>
          </>
        )}
      </QueryView>
    </>
  )
}
