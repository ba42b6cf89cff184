import { useState } from 'react'
import { api, unwrap, type Schemas } from '../../api/client'
import { EditForm, useSubmit } from '../../components/EditForm'
import { Field } from '../../components/Field'
import { MappingFrame, RowActions, useMappingEdits } from '../../components/MappingFrame'
import { QueryView } from '../../components/States'
import { Table } from '../../components/Table'
import { formatNumber } from '../../lib/format'
import { useQuery } from '../../lib/hooks'

type Row = Schemas['TypeMappingOut']

export function validateTypeMapping(d: { sourceType: string; standardType: string }): Record<string, string> {
  const e: Record<string, string> = {}
  if (!d.sourceType) e.sourceType = "The source's type name."
  if (!d.standardType) e.standardType = 'The standard type it maps to.'
  else if (d.standardType.length > 64) e.standardType = 'At most 64 characters.'
  return e
}

function TypeForm({ row, onSaved, onCancel }: { row?: Row; onSaved: (jobs: string[]) => void; onCancel: () => void }) {
  const [sourceType, setSourceType] = useState(row?.sourceType ?? '')
  const [standardType, setStandardType] = useState(row?.standardType ?? '')
  const { errors, message, busy, submit } = useSubmit()
  const id = row?.id
  const title =
    id != null ? `Edit the mapping of ${row!.sourceType}` : row ? `Map ${row.sourceType}` : 'New type mapping'
  async function save() {
    const body = { sourceType: sourceType.trim(), standardType: standardType.trim() }
    const out = await submit(validateTypeMapping(body), () =>
      id != null
        ? unwrap(
            api.PUT('/api/v1/mappings/types/{type_mapping_id}', { params: { path: { type_mapping_id: id } }, body }),
          )
        : unwrap(api.POST('/api/v1/mappings/types', { body })),
    )
    if (out) onSaved(out.affectedJobs)
  }
  return (
    <EditForm title={title} message={message} busy={busy} onSubmit={save} onCancel={onCancel}>
      <div className="grid">
        <Field label="Source type" error={errors.sourceType} hint="As the source names it; case does not matter.">
          {(p) => <input {...p} value={sourceType} onChange={(e) => setSourceType(e.target.value)} />}
        </Field>
        <Field label="Standard type" error={errors.standardType} hint="e.g. STORY, BUG, EPIC">
          {(p) => <input {...p} value={standardType} onChange={(e) => setStandardType(e.target.value)} />}
        </Field>
      </div>
    </EditForm>
  )
}

export function TypeMappingsPage() {
  const rows = useQuery(() => unwrap(api.GET('/api/v1/mappings/types')))
  const edits = useMappingEdits<Row>(rows.reload)
  return (
    <MappingFrame
      title="Work item type mappings"
      intro="Each source type maps to a standard type. A type no mapping covers keeps its name, upper-cased."
      edits={edits}
      newLabel="New type mapping"
      form={{
        key: (r) => r.sourceType,
        saved: 'the type mapping',
        render: (row, done) => <TypeForm row={row} {...done} />,
      }}
    >
      <QueryView query={rows} empty="No work items loaded and no mappings yet.">
        {(list) => (
          <Table
            caption="Source types and the standard types they map to"
            columns={['Source type', 'Standard type', 'Rule', 'Items', 'Actions']}
          >
            {list.map((r) => (
              <tr key={`${r.id ?? 'seen'}-${r.sourceType}`}>
                <th scope="row">{r.sourceType}</th>
                <td>{r.standardType}</td>
                <td>{r.mapped ? 'mapping' : <span className="muted">default: upper-case</span>}</td>
                <td>{formatNumber(r.items)}</td>
                <RowActions
                  edits={edits}
                  row={r}
                  name={`type ${r.sourceType}`}
                  mapped={r.mapped}
                  removal={
                    r.id != null
                      ? {
                          question: `Remove the mapping of ${r.sourceType}? The default applies again.`,
                          call: () =>
                            unwrap(
                              api.DELETE('/api/v1/mappings/types/{type_mapping_id}', {
                                params: { path: { type_mapping_id: r.id! } },
                              }),
                            ),
                        }
                      : undefined
                  }
                />
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </MappingFrame>
  )
}
