import type { ReactNode } from 'react'
import type { Query } from '../lib/hooks'

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      {what}…
    </p>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>
}

export function ErrorState({ error, retry }: { error: Error; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <p>Could not load: {error.message}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  )
}

/** Loading, error and empty states of one query, then `children(data)`. */
export function QueryView<T>({
  query,
  empty,
  isEmpty,
  children,
}: {
  query: Query<T>
  empty?: ReactNode
  isEmpty?: (data: T) => boolean
  children: (data: T) => ReactNode
}) {
  if (query.data === undefined) {
    if (query.error) return <ErrorState error={query.error} retry={query.reload} />
    return <Loading />
  }
  const blank = isEmpty ? isEmpty(query.data) : Array.isArray(query.data) && query.data.length === 0
  return (
    <>
      {query.error && <ErrorState error={query.error} retry={query.reload} />}
      {blank && empty ? <Empty>{empty}</Empty> : children(query.data)}
    </>
  )
}
