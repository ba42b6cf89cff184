import { useEffect, useRef, useState } from 'react'
import { Link, useParams } from 'react-router-dom'
import { api, unwrap } from '../api/client'
import { LiveRun } from '../components/LiveRun'
import { Time } from '../components/bits'
import { Loading, QueryView } from '../components/States'
import { useQuery } from '../lib/hooks'
import { Table } from '../components/Table'

function RawPage({ id }: { id: number }) {
  const page = useQuery(
    () => unwrap(api.GET('/api/v1/raw-pages/{page_id}', { params: { path: { page_id: id } } })),
    [id],
  )
  const here = useRef<HTMLElement>(null)
  const loaded = page.data !== undefined
  // The page opens below a long table: bring it into view, and the keyboard with it.
  useEffect(() => {
    if (loaded) here.current?.focus()
  }, [loaded, id])
  if (!page.data) return page.error ? <p role="alert">{page.error.message}</p> : <Loading what="Loading the page" />
  return (
    <section className="panel" aria-labelledby="h-page" ref={here} tabIndex={-1}>
      <h2 id="h-page">
        Raw page #{id}: {page.data.method} {page.data.status}
      </h2>
      <p className="wrap">{page.data.url}</p>
      <pre className="json" tabIndex={0} aria-label={`Response of raw page ${id}`}>
        {JSON.stringify(page.data.response, null, 2)}
      </pre>
    </section>
  )
}

export function RunPage() {
  const id = Number(useParams().id)
  const [cursor, setCursor] = useState<string | undefined>()
  const [open, setOpen] = useState<number | null>(null)
  const run = useQuery(() => unwrap(api.GET('/api/v1/runs/{run_id}', { params: { path: { run_id: id } } })), [id])
  const pages = useQuery(
    () =>
      unwrap(
        api.GET('/api/v1/runs/{run_id}/raw-pages', { params: { path: { run_id: id }, query: { limit: 50, cursor } } }),
      ),
    [id, cursor],
  )
  return (
    <>
      <p>{run.data ? <Link to={`/jobs/${run.data.job}`}>← {run.data.job}</Link> : <Link to="/jobs">← Jobs</Link>}</p>
      <h1>
        Run #{id}
        {run.data && ` of ${run.data.job}`}
      </h1>
      <LiveRun runId={id} title="Progress" />
      <section aria-labelledby="h-raw">
        <h2 id="h-raw">Raw pages</h2>
        <QueryView query={pages} isEmpty={(p) => p.items.length === 0} empty="This run stored no raw pages.">
          {(page) => (
            <>
              <Table
                caption={`Raw API pages of run #${id}`}
                columns={['Page', 'Entity', 'Stream', 'Seq', 'Status', 'Items', 'Fetched']}
              >
                {page.items.map((p) => (
                  <tr key={p.id}>
                    <td>
                      <button
                        type="button"
                        className="link"
                        onClick={() => setOpen(p.id)}
                        aria-label={`Show raw page ${p.id}`}
                      >
                        #{p.id}
                      </button>
                    </td>
                    <td>{p.entity}</td>
                    <td>{p.stream}</td>
                    <td>{p.pageSeq}</td>
                    <td>{p.status}</td>
                    <td>{p.itemCount}</td>
                    <td>
                      <Time value={p.fetchedAt} />
                    </td>
                  </tr>
                ))}
              </Table>
              {page.nextCursor && (
                <button type="button" onClick={() => setCursor(page.nextCursor ?? undefined)}>
                  Next pages
                </button>
              )}
            </>
          )}
        </QueryView>
      </section>
      {open != null && <RawPage id={open} />}
    </>
  )
}
