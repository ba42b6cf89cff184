import { useId, useState } from 'react'
import { useSearchParams } from 'react-router-dom'
import { api, unwrap, type Schemas } from '../../api/client'
import { EditForm, useSubmit } from '../../components/EditForm'
import { Field } from '../../components/Field'
import { MappingFrame, RowActions, useMappingEdits } from '../../components/MappingFrame'
import { QueryView } from '../../components/States'
import { Table } from '../../components/Table'
import { formatNumber } from '../../lib/format'
import { useQuery } from '../../lib/hooks'
import { byType, defaultReason, STANDARD_STATUSES, type StandardStatus } from '../../lib/mappings'

type Row = Schemas['StatusMappingOut']

interface Draft {
  workItemType: string
  sourceStatus: string
  standardStatus: StandardStatus
  workflowStep: string
}

export function validateStatusMapping(d: Draft): Record<string, string> {
  const e: Record<string, string> = {}
  if (!d.workItemType) e.workItemType = 'A standard type, or * for every type.'
  if (!d.sourceStatus) e.sourceStatus = 'The status as the source names it.'
  if (d.workflowStep.length > 100) e.workflowStep = 'At most 100 characters.'
  return e
}

function StatusForm({
  row,
  types,
  onSaved,
  onCancel,
}: {
  row?: Row
  types: string[]
  onSaved: (jobs: string[]) => void
  onCancel: () => void
}) {
  const [d, setD] = useState<Draft>({
    workItemType: row?.workItemType ?? '*',
    sourceStatus: row?.sourceStatus ?? '',
    standardStatus: (row?.standardStatus as StandardStatus) ?? 'To Do',
    workflowStep: row?.mapped ? (row.workflowStep ?? '') : '',
  })
  const set = (k: keyof Draft) => (e: { target: { value: string } }) => setD({ ...d, [k]: e.target.value })
  const { errors, message, busy, submit } = useSubmit()
  const list = useId()
  const id = row?.id
  async function save() {
    const draft = {
      workItemType: d.workItemType.trim(),
      sourceStatus: d.sourceStatus.trim(),
      standardStatus: d.standardStatus,
      workflowStep: d.workflowStep.trim(),
    }
    const body = { ...draft, workflowStep: draft.workflowStep || null }
    const out = await submit(validateStatusMapping(draft), () =>
      id != null
        ? unwrap(
            api.PUT('/api/v1/mappings/statuses/{status_mapping_id}', {
              params: { path: { status_mapping_id: id } },
              body,
            }),
          )
        : unwrap(api.POST('/api/v1/mappings/statuses', { body })),
    )
    if (out) onSaved(out.affectedJobs)
  }
  const title =
    id != null
      ? `Edit the mapping of ${row!.sourceStatus} (${row!.workItemType})`
      : row
        ? `Map ${row.sourceStatus} (${row.workItemType})`
        : 'New status mapping'
  return (
    <EditForm title={title} message={message} busy={busy} onSubmit={save} onCancel={onCancel}>
      <div className="grid">
        <Field label="Work item type" error={errors.workItemType} hint="A standard type, or * for every type">
          {(p) => <input {...p} list={list} value={d.workItemType} onChange={set('workItemType')} />}
        </Field>
        <datalist id={list}>
          {['*', ...types].map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <Field label="Source status" error={errors.sourceStatus}>
          {(p) => <input {...p} value={d.sourceStatus} onChange={set('sourceStatus')} />}
        </Field>
        <Field label="Standard status" error={errors.standardStatus}>
          {(p) => (
            <select {...p} value={d.standardStatus} onChange={set('standardStatus')}>
              {STANDARD_STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Workflow step" error={errors.workflowStep} hint="Optional; default: a step of the same name">
          {(p) => <input {...p} value={d.workflowStep} onChange={set('workflowStep')} />}
        </Field>
      </div>
    </EditForm>
  )
}

/** The standard status a row gives, and for an unmapped one the rule that chose it. */
export function StatusOutcome({ row }: { row: Row }) {
  if (row.mapped) return <>{row.standardStatus}</>
  return (
    <>
      {row.standardStatus ?? '—'} <span className="badge muted">default</span>
      <small className="muted block">from {defaultReason(row)}</small>
    </>
  )
}

export function StatusMappingsPage() {
  const [params, setParams] = useSearchParams()
  const type = params.get('type') ?? ''
  const all = useQuery(() => unwrap(api.GET('/api/v1/mappings/statuses')))
  const edits = useMappingEdits<Row>(all.reload)
  const types = [...new Set((all.data ?? []).map((r) => r.workItemType).filter((t) => t !== '*'))].sort()
  const shown = (all.data ?? []).filter((r) => !type || r.workItemType === type || r.workItemType === '*')
  return (
    <MappingFrame
      title="Status mappings"
      intro="The standard status (To Do, In Progress, Done) of each source status, per work item type or for every type (*). Unmapped statuses seen in the data show the default they get: a workflow step of that name, else the source's status category."
      edits={edits}
      newLabel="New status mapping"
      form={{
        key: (r) => `${r.workItemType}/${r.sourceStatus}`,
        saved: 'the status mapping',
        render: (row, done) => <StatusForm row={row} types={types} {...done} />,
      }}
    >
      <form className="inline" aria-label="Filter" onSubmit={(e) => e.preventDefault()}>
        <Field label="Work item type">
          {(p) => (
            <select
              {...p}
              value={type}
              onChange={(e) => setParams(e.target.value ? { type: e.target.value } : {}, { replace: true })}
            >
              <option value="">All types</option>
              {types.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          )}
        </Field>
      </form>
      <QueryView query={{ ...all, data: all.data && shown }} empty="No statuses seen in the data and no mappings yet.">
        {(list) =>
          byType(list).map(([t, group]) => (
            <Table
              key={t}
              caption={t === '*' ? 'Every type (*)' : `Type ${t}`}
              columns={['Source status', 'Standard status', 'Workflow step', 'Items', 'Actions']}
            >
              {group.map((r) => (
                <tr key={`${r.id ?? 'seen'}-${r.sourceStatus}`} data-testid={`status-${t}-${r.sourceStatus}`}>
                  <th scope="row">
                    {r.sourceStatus}
                    {r.statusCategory && <small className="muted block">category {r.statusCategory}</small>}
                  </th>
                  <td>
                    <StatusOutcome row={r} />
                  </td>
                  <td>{r.workflowStep ?? '—'}</td>
                  <td>{formatNumber(r.items)}</td>
                  <RowActions
                    edits={edits}
                    row={r}
                    name={`status ${r.sourceStatus} of ${t}`}
                    mapped={r.mapped}
                    removal={
                      r.id != null
                        ? {
                            question: `Remove the mapping of ${r.sourceStatus} (${t})? The default applies again.`,
                            call: () =>
                              unwrap(
                                api.DELETE('/api/v1/mappings/statuses/{status_mapping_id}', {
                                  params: { path: { status_mapping_id: r.id! } },
                                }),
                              ),
                          }
                        : undefined
                    }
                  />
                </tr>
              ))}
            </Table>
          ))
        }
      </QueryView>
    </MappingFrame>
  )
}
