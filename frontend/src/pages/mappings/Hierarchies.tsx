import { useState } from 'react'
import { api, unwrap, type Schemas } from '../../api/client'
import { EditForm, useSubmit } from '../../components/EditForm'
import { Field } from '../../components/Field'
import { MappingFrame, RowActions, useMappingEdits } from '../../components/MappingFrame'
import { QueryView } from '../../components/States'
import { Table } from '../../components/Table'
import { formatNumber } from '../../lib/format'
import { useQuery } from '../../lib/hooks'

type Row = Schemas['HierarchyOut']

export function validateHierarchy(d: { standardType: string; level: string }): Record<string, string> {
  const e: Record<string, string> = {}
  if (!d.standardType) e.standardType = 'The standard type (e.g. EPIC).'
  else if (d.standardType.length > 64) e.standardType = 'At most 64 characters.'
  if (!/^-?\d+$/.test(d.level) || Number(d.level) < -10 || Number(d.level) > 10)
    e.level = 'A whole number from -10 to 10.'
  return e
}

function LevelForm({ row, onSaved, onCancel }: { row?: Row; onSaved: (jobs: string[]) => void; onCancel: () => void }) {
  const [standardType, setStandardType] = useState(row?.standardType ?? '')
  const [level, setLevel] = useState(row?.level == null ? '' : String(row.level))
  const [description, setDescription] = useState(row?.description ?? '')
  const { errors, message, busy, submit } = useSubmit()
  const id = row?.id
  async function save() {
    const draft = { standardType: standardType.trim(), level: level.trim() }
    const body = {
      standardType: draft.standardType,
      level: Number(draft.level),
      description: description.trim() || null,
    }
    const out = await submit(validateHierarchy(draft), () =>
      id != null
        ? unwrap(
            api.PUT('/api/v1/mappings/hierarchies/{hierarchy_id}', { params: { path: { hierarchy_id: id } }, body }),
          )
        : unwrap(api.POST('/api/v1/mappings/hierarchies', { body })),
    )
    if (out) onSaved(out.affectedJobs)
  }
  const title =
    id != null ? `Edit the level of ${row!.standardType}` : row ? `Set the level of ${row.standardType}` : 'New level'
  return (
    <EditForm title={title} message={message} busy={busy} onSubmit={save} onCancel={onCancel}>
      <div className="grid">
        <Field label="Standard type" error={errors.standardType}>
          {(p) => <input {...p} value={standardType} onChange={(e) => setStandardType(e.target.value)} />}
        </Field>
        <Field label="Level" error={errors.level} hint="-1 sub-task, 0 story, 1 epic, higher above">
          {(p) => <input {...p} inputMode="numeric" value={level} onChange={(e) => setLevel(e.target.value)} />}
        </Field>
        <Field label="Description" error={errors.description}>
          {(p) => <input {...p} value={description} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
      </div>
    </EditForm>
  )
}

export function HierarchiesPage() {
  const rows = useQuery(() => unwrap(api.GET('/api/v1/mappings/hierarchies')))
  const edits = useMappingEdits<Row>(rows.reload)
  return (
    <MappingFrame
      title="Work item hierarchies"
      intro="The level of each standard type. Without one, a type keeps the level the source gives it (sub-tasks -1, else 0)."
      edits={edits}
      newLabel="New level"
      form={{
        key: (r) => r.standardType,
        saved: 'the hierarchy level',
        render: (row, done) => <LevelForm row={row} {...done} />,
      }}
    >
      <QueryView query={rows} empty="No work items loaded and no levels set yet.">
        {(list) => (
          <Table
            caption="Levels of the standard types, highest first"
            columns={['Standard type', 'Level', 'Description', 'Rule', 'Items', 'Actions']}
          >
            {list.map((r) => (
              <tr key={`${r.id ?? 'seen'}-${r.standardType}`}>
                <th scope="row">{r.standardType}</th>
                <td>{r.level ?? '—'}</td>
                <td className="wrap">{r.description ?? ''}</td>
                <td>{r.mapped ? 'mapping' : <span className="muted">default: from the source</span>}</td>
                <td>{formatNumber(r.items)}</td>
                <RowActions
                  edits={edits}
                  row={r}
                  name={`the level of ${r.standardType}`}
                  mapped={r.mapped}
                  mapLabel="Set"
                  removal={
                    r.id != null
                      ? {
                          question: `Remove the level of ${r.standardType}? The source's level applies again.`,
                          label: `Remove the level of ${r.standardType}`,
                          call: () =>
                            unwrap(
                              api.DELETE('/api/v1/mappings/hierarchies/{hierarchy_id}', {
                                params: { path: { hierarchy_id: r.id! } },
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
