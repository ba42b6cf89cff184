import { useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router-dom'
import { api, ApiError, unwrap, type Schemas } from '../api/client'
import { Field } from '../components/Field'
import { Progress } from '../components/bits'
import { ErrorState, Loading } from '../components/States'
import { formatNumber } from '../lib/format'
import { useInterval, useQuery } from '../lib/hooks'

type Status = Schemas['SearchStatusOut']
type Hit = Schemas['SearchHit']
type Kind = 'work_item' | 'pull_request'

const KINDS: Record<Kind, string> = { work_item: 'Work items', pull_request: 'Pull requests' }

/** Whether the API said the vector store is busy (the embed worker is writing): worth asking again soon. */
export function isBusy(error: Error | undefined): boolean {
  return error instanceof ApiError && error.status === 503 && /busy/.test(error.message)
}

const BUSY_TEXT = 'Busy writing new vectors; trying again in a few seconds.'

/** "12 of 40 embedded (28 waiting)" for one kind or all. */
export function progressText(p: { pending: number; embedded: number }): string {
  const total = p.pending + p.embedded
  if (total === 0) return 'nothing loaded yet'
  return `${formatNumber(p.embedded)} of ${formatNumber(total)} embedded${p.pending ? ` (${formatNumber(p.pending)} waiting)` : ''}`
}

function CollectionStatus({ status }: { status: Status }) {
  const { progress } = status
  return (
    <section className="panel" aria-labelledby="h-collection">
      <h2 id="h-collection">Collection</h2>
      <dl className="facts">
        <dt>Points of this tenant</dt>
        <dd data-testid="collection-size">{status.points == null ? '—' : formatNumber(status.points)}</dd>
        <dt>Collection</dt>
        <dd>
          {status.collection ?? '—'} ({status.vectors === 'server' ? 'Qdrant server' : 'Qdrant local mode'})
        </dd>
        <dt>Embedder</dt>
        <dd>{status.embedder ?? '—'}</dd>
        <dt>Embedding</dt>
        <dd>{progressText(progress)}</dd>
      </dl>
      {!status.available && (
        <p className="wait" role="status">
          {status.reason && /busy/.test(status.reason) ? BUSY_TEXT : `Search is unavailable now: ${status.reason}`}
        </p>
      )}
      <div className="entities">
        {Object.entries(progress.byKind).map(([kind, p]) => (
          <Progress
            key={kind}
            label={`${KINDS[kind as Kind] ?? kind} embedded`}
            value={p.embedded}
            max={p.embedded + p.pending}
          />
        ))}
      </div>
    </section>
  )
}

function HitItem({ hit }: { hit: Hit }) {
  const label = hit.kind === 'work_item' ? 'Work item' : 'Pull request'
  const tab = hit.kind === 'work_item' ? '' : '&tab=pulls'
  const q = hit.kind === 'work_item' ? hit.key : hit.key.split('#')[0]
  return (
    <li className="hit">
      <div>
        <Link to={`/data?q=${encodeURIComponent(q)}${tab}`}>
          <strong>{hit.key}</strong>
        </Link>{' '}
        <span className="muted">
          {label}
          {hit.type ? ` · ${hit.type}` : ''}
          {hit.status ? ` · ${hit.status}` : ''}
          {hit.state ? ` · ${hit.state}` : ''} · score {hit.score.toFixed(3)}
        </span>
      </div>
      <p className="snippet">{hit.text || <span className="muted">(no text)</span>}</p>
    </li>
  )
}

/** Semantic search over the tenant's work items and pull requests, and how far their vectors are. */
export function SearchPage() {
  const [params, setParams] = useSearchParams()
  const q = params.get('q') ?? ''
  const kind = (params.get('kind') ?? '') as Kind | ''
  const [text, setText] = useState(q)
  const [error, setError] = useState<string>()
  const status = useQuery(() => unwrap(api.GET('/api/v1/search/status')))
  const results = useQuery(
    () =>
      q
        ? unwrap(api.GET('/api/v1/search', { params: { query: { q, kind: kind || undefined, limit: 20 } } }))
        : Promise.resolve(null),
    [q, kind],
  )
  // While vectors are still being written, the counts move: keep them current.
  useInterval(() => {
    if (!status.data || status.data.progress.pending > 0 || !status.data.available) status.reload()
    if (isBusy(results.error) && !results.loading) results.reload()
  }, 3000)

  function search(event: FormEvent) {
    event.preventDefault()
    if (!text.trim()) {
      setError('Type what to look for, in words.')
      return
    }
    setError(undefined)
    const next = new URLSearchParams(params)
    next.set('q', text.trim())
    setParams(next)
  }
  function choose(value: string) {
    const next = new URLSearchParams(params)
    if (value) next.set('kind', value)
    else next.delete('kind')
    setParams(next)
  }

  return (
    <>
      <h1>Search</h1>
      <p className="muted">
        Finds work items and pull requests by meaning, not only by exact words. New and changed rows are searchable once
        embedded.
      </p>
      <form role="search" className="inline" onSubmit={search} noValidate>
        <Field label="Search by meaning" error={error}>
          {(p) => (
            <input
              {...p}
              type="search"
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="login times out"
            />
          )}
        </Field>
        <Field label="Look in">
          {(p) => (
            <select {...p} value={kind} onChange={(e) => choose(e.target.value)}>
              <option value="">Work items and pull requests</option>
              {Object.entries(KINDS).map(([k, label]) => (
                <option key={k} value={k}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      {status.data ? (
        <CollectionStatus status={status.data} />
      ) : status.error ? (
        <ErrorState error={status.error} retry={status.reload} />
      ) : (
        <Loading what="Loading the collection" />
      )}
      {q && (
        <section aria-labelledby="h-results">
          <h2 id="h-results">Results for “{q}”</h2>
          {isBusy(results.error) ? (
            <p className="state wait" role="status">
              {BUSY_TEXT}
            </p>
          ) : results.loading ? (
            <Loading
              what={status.data?.available === false ? 'Searching as soon as the vector store is free' : 'Searching'}
            />
          ) : results.error ? (
            <ErrorState error={results.error} retry={results.reload} />
          ) : results.data && results.data.hits.length ? (
            <ol className="hits" aria-label={`Results for “${q}”`}>
              {results.data.hits.map((h) => (
                <HitItem key={`${h.kind}/${h.integrationId}/${h.key}`} hit={h} />
              ))}
            </ol>
          ) : (
            <p className="state empty">
              Nothing found for “{q}”{results.data?.progress.pending ? ': some rows are not embedded yet' : ''}.
            </p>
          )}
        </section>
      )}
    </>
  )
}
