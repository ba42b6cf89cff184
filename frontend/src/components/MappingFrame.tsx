import { Fragment, useState, type ReactNode } from 'react'
import { useCanEdit } from '../lib/me'
import { MappingsNav } from './MappingsNav'
import { RetransformOffer } from './Retransform'

interface Offer {
  jobs: string[]
  what: string
}

/** What a mapping page edits (a row, a new one, or nothing) and the re-transform offered after a change. */
export function useMappingEdits<R>(reload: () => void) {
  const [editing, setEditing] = useState<R | 'new' | null>(null)
  const [offer, setOffer] = useState<Offer | null>(null)
  const [notice, setNotice] = useState('')
  const saved = (what: string, jobs: string[]) => {
    setOffer({ jobs, what })
    setEditing(null)
    setNotice('')
    reload()
  }
  async function remove(question: string, what: string, call: () => Promise<{ affectedJobs: string[] }>) {
    if (!window.confirm(question)) return
    try {
      saved(what, (await call()).affectedJobs)
    } catch (e) {
      setNotice(`Could not remove it: ${(e as Error).message}`)
      reload()
    }
  }
  return { editing, setEditing, offer, setOffer, notice, saved, remove }
}

export type MappingEdits<R> = ReturnType<typeof useMappingEdits<R>>

/** How a mapping page's form is made: for a row (or a new one), and what a save is called. */
export interface FormOf<R> {
  key: (row: R) => string
  saved: string
  render: (row: R | undefined, done: { onSaved: (jobs: string[]) => void; onCancel: () => void }) => ReactNode
}

/** The frame of every mapping page: title, the mapping pages' navigation, the offer, the form or its button. */
export function MappingFrame<R>({
  title,
  intro,
  edits,
  newLabel,
  form,
  children,
}: {
  title: string
  intro: ReactNode
  edits: MappingEdits<R>
  newLabel: string
  form: FormOf<R>
  children: ReactNode
}) {
  const { editing } = edits
  const canEdit = useCanEdit()
  return (
    <>
      <h1>{title}</h1>
      <MappingsNav />
      <p className="muted">
        {intro}
        {!canEdit && ' Changing them needs the editor role.'}
      </p>
      {edits.offer && (
        <RetransformOffer
          key={edits.offer.what + edits.offer.jobs.join()}
          jobs={edits.offer.jobs}
          what={edits.offer.what}
          onClose={() => edits.setOffer(null)}
        />
      )}
      {editing ? (
        <Fragment key={editing === 'new' ? 'new' : form.key(editing)}>
          {form.render(editing === 'new' ? undefined : editing, {
            onSaved: (jobs) => edits.saved(form.saved, jobs),
            onCancel: () => edits.setEditing(null),
          })}
        </Fragment>
      ) : (
        canEdit && (
          <button type="button" className="primary" onClick={() => edits.setEditing('new')}>
            {newLabel}
          </button>
        )
      )}
      <p role="status" className="notice">
        {edits.notice}
      </p>
      {children}
    </>
  )
}

/** A row's Edit (or Map) button, and Remove where the row is a stored mapping. */
export function RowActions<R>({
  edits,
  row,
  name,
  mapped,
  mapLabel = 'Map',
  removal,
}: {
  edits: MappingEdits<R>
  row: R
  name: string
  mapped: boolean
  mapLabel?: string
  removal?: { question: string; label?: string; call: () => Promise<{ affectedJobs: string[] }> }
}) {
  if (!useCanEdit()) return <td className="actions muted">—</td>
  return (
    <td className="actions">
      <button type="button" onClick={() => edits.setEditing(row)} aria-label={`${mapped ? 'Edit' : mapLabel} ${name}`}>
        {mapped ? 'Edit' : mapLabel}
      </button>
      {removal && (
        <button
          type="button"
          className="danger"
          aria-label={removal.label ?? `Remove the mapping of ${name}`}
          onClick={() => edits.remove(removal.question, 'the change', removal.call)}
        >
          Remove
        </button>
      )}
    </td>
  )
}
