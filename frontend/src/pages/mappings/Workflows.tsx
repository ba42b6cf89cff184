import { useState, type KeyboardEvent } from 'react'
import { api, unwrap, type Schemas } from '../../api/client'
import { Time } from '../../components/bits'
import { EditForm, useSubmit } from '../../components/EditForm'
import { Field } from '../../components/Field'
import { MappingFrame, useMappingEdits } from '../../components/MappingFrame'
import { QueryView } from '../../components/States'
import { errorFor } from '../../lib/forms'
import { useQuery } from '../../lib/hooks'
import { useCanEdit } from '../../lib/me'
import { STANDARD_STATUSES } from '../../lib/mappings'
import {
  moveAnnouncement,
  moveStep,
  newStepKey,
  togglePoint,
  workflowProblems,
  type DraftStep,
} from '../../lib/workflow'

type Workflow = Schemas['WorkflowOut']

function draftSteps(w?: Workflow): DraftStep[] {
  if (!w)
    return [{ key: newStepKey(), name: '', standardStatus: 'To Do', commitmentPoint: false, deliveryPoint: false }]
  return w.steps.map((s) => ({
    key: newStepKey(),
    name: s.name,
    standardStatus: s.standardStatus as DraftStep['standardStatus'],
    commitmentPoint: s.commitmentPoint,
    deliveryPoint: s.deliveryPoint,
  }))
}

/** The ordered steps: drag a step by its handle, or move it with its buttons or Alt+↑ / Alt+↓. */
export function StepList({
  steps,
  onChange,
  errors,
}: {
  steps: DraftStep[]
  onChange: (steps: DraftStep[]) => void
  errors: Record<string, string>
}) {
  const [dragging, setDragging] = useState<number | null>(null)
  const [announcement, setAnnouncement] = useState('')
  const problems = workflowProblems('x', steps)

  function move(from: number, to: number, focus?: string) {
    if (to < 0 || to >= steps.length || from === to) return
    const next = moveStep(steps, from, to)
    onChange(next)
    setAnnouncement(moveAnnouncement(steps[from].name, to, steps.length))
    // Keep the keyboard where it was: on the same control of the moved step.
    if (focus)
      requestAnimationFrame(() =>
        document.querySelector<HTMLElement>(`[data-focus="${steps[from].key}-${focus}"]`)?.focus(),
      )
  }
  function onKey(index: number, control: string) {
    return (e: KeyboardEvent) => {
      if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return
      e.preventDefault()
      move(index, index + (e.key === 'ArrowUp' ? -1 : 1), control)
    }
  }
  const update = (index: number, patch: Partial<DraftStep>) =>
    onChange(steps.map((s, i) => (i === index ? { ...s, ...patch } : s)))

  return (
    <fieldset className="steps">
      <legend>Steps, in order</legend>
      <p className="hint">Drag a step by its handle, or use Move up / Move down (Alt+↑ / Alt+↓ in a step's name).</p>
      <p className="sr-only" aria-live="assertive">
        {announcement}
      </p>
      <ol>
        {steps.map((s, i) => {
          const label = s.name.trim() || `step ${i + 1}`
          const error = problems.step[i] ?? errorFor(errors, `steps.${i}`)
          return (
            <li
              key={s.key}
              className={`step${dragging === i ? ' dragging' : ''}`}
              data-testid={`step-${i}`}
              onDragOver={(e) => {
                if (dragging !== null) e.preventDefault()
              }}
              onDrop={(e) => {
                e.preventDefault()
                if (dragging !== null) move(dragging, i)
                setDragging(null)
              }}
            >
              <span
                className="handle"
                draggable
                aria-hidden="true"
                title="Drag to reorder"
                onDragStart={(e) => {
                  e.dataTransfer.effectAllowed = 'move'
                  e.dataTransfer.setData('text/plain', String(i))
                  setDragging(i)
                }}
                onDragEnd={() => setDragging(null)}
              >
                ⠿
              </span>
              <span className="position" aria-hidden="true">
                {i + 1}
              </span>
              <div className="step-fields">
                <Field label={`Name of step ${i + 1}`} error={error}>
                  {(p) => (
                    <input
                      {...p}
                      data-focus={`${s.key}-name`}
                      value={s.name}
                      onKeyDown={onKey(i, 'name')}
                      onChange={(e) => update(i, { name: e.target.value })}
                    />
                  )}
                </Field>
                <Field label={`Standard status of step ${i + 1}`}>
                  {(p) => (
                    <select
                      {...p}
                      data-focus={`${s.key}-status`}
                      value={s.standardStatus}
                      onKeyDown={onKey(i, 'status')}
                      onChange={(e) => update(i, { standardStatus: e.target.value as DraftStep['standardStatus'] })}
                    >
                      {STANDARD_STATUSES.map((x) => (
                        <option key={x}>{x}</option>
                      ))}
                    </select>
                  )}
                </Field>
                <div className="step-points">
                  <label className="check">
                    <input
                      type="checkbox"
                      checked={s.commitmentPoint}
                      onChange={() => onChange(togglePoint(steps, i, 'commitmentPoint'))}
                    />{' '}
                    Commitment point
                  </label>
                  <label className="check">
                    <input
                      type="checkbox"
                      checked={s.deliveryPoint}
                      onChange={() => onChange(togglePoint(steps, i, 'deliveryPoint'))}
                    />{' '}
                    Delivery point
                  </label>
                </div>
              </div>
              <div className="step-actions">
                <button
                  type="button"
                  data-focus={`${s.key}-up`}
                  aria-label={`Move ${label} up`}
                  disabled={i === 0}
                  onClick={() => move(i, i - 1, i - 1 === 0 ? 'down' : 'up')}
                >
                  ↑
                </button>
                <button
                  type="button"
                  data-focus={`${s.key}-down`}
                  aria-label={`Move ${label} down`}
                  disabled={i === steps.length - 1}
                  onClick={() => move(i, i + 1, i + 1 === steps.length - 1 ? 'up' : 'down')}
                >
                  ↓
                </button>
                <button
                  type="button"
                  className="danger"
                  aria-label={`Remove ${label}`}
                  disabled={steps.length === 1}
                  onClick={() => {
                    onChange(steps.filter((_, j) => j !== i))
                    setAnnouncement(`${label} removed.`)
                  }}
                >
                  ✕
                </button>
              </div>
            </li>
          )
        })}
      </ol>
      <button
        type="button"
        onClick={() =>
          onChange([
            ...steps,
            {
              key: newStepKey(),
              name: '',
              standardStatus: 'In Progress',
              commitmentPoint: false,
              deliveryPoint: false,
            },
          ])
        }
      >
        Add a step
      </button>
    </fieldset>
  )
}

function WorkflowForm({
  workflow,
  onSaved,
  onCancel,
}: {
  workflow?: Workflow
  onSaved: (jobs: string[]) => void
  onCancel: () => void
}) {
  const [name, setName] = useState(workflow?.name ?? '')
  const [type, setType] = useState(workflow?.workItemType ?? '*')
  const [steps, setSteps] = useState<DraftStep[]>(() => draftSteps(workflow))
  const { errors, message, busy, submit } = useSubmit()

  async function save() {
    const found = workflowProblems(name, steps)
    const check: Record<string, string> = {}
    if (found.name) check.name = found.name
    if (found.steps) check.steps = found.steps
    for (const [i, text] of Object.entries(found.step)) check[`steps.${i}.name`] = text
    if (!type.trim()) check.workItemType = 'A standard type, or * for every type.'
    const body = {
      name: name.trim(),
      workItemType: type.trim(),
      steps: steps.map(({ name, standardStatus, commitmentPoint, deliveryPoint }) => ({
        name: name.trim(),
        standardStatus,
        commitmentPoint,
        deliveryPoint,
      })),
    }
    const out = await submit(check, () =>
      workflow
        ? unwrap(
            api.PUT('/api/v1/mappings/workflows/{workflow_name}', {
              params: { path: { workflow_name: workflow.name } },
              body,
            }),
          )
        : unwrap(api.POST('/api/v1/mappings/workflows', { body })),
    )
    if (out) onSaved(out.affectedJobs)
  }
  const stepsError = errors.steps
  return (
    <EditForm
      title={workflow ? `Edit workflow ${workflow.name}` : 'New workflow'}
      message={message}
      busy={busy}
      onSubmit={save}
      onCancel={onCancel}
      submitLabel="Save workflow"
    >
      <div className="grid">
        <Field label="Name" error={errors.name}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Work item type" error={errors.workItemType} hint="A standard type, or * for every type">
          {(p) => <input {...p} value={type} onChange={(e) => setType(e.target.value)} />}
        </Field>
      </div>
      <StepList steps={steps} onChange={setSteps} errors={errors} />
      {stepsError && (
        <p className="field-error" role="alert">
          {stepsError}
        </p>
      )}
    </EditForm>
  )
}

function WorkflowCard({ w, onEdit, onRemove }: { w: Workflow; onEdit: () => void; onRemove: () => void }) {
  return (
    <section className="card" aria-labelledby={`wf-${w.name}`}>
      <h2 id={`wf-${w.name}`}>
        {w.name} <span className="muted">· type {w.workItemType}</span>
      </h2>
      <ol className="flow">
        {w.steps.map((s) => (
          <li key={s.position}>
            <strong>{s.name}</strong> <span className="muted">{s.standardStatus}</span>
            {s.commitmentPoint && <span className="badge busy">commitment</span>}
            {s.deliveryPoint && <span className="badge ok">delivery</span>}
          </li>
        ))}
      </ol>
      <p className="muted">
        Changed <Time value={w.updatedAt} />
      </p>
      {useCanEdit() && (
        <div className="actions">
          <button type="button" onClick={onEdit} aria-label={`Edit workflow ${w.name}`}>
            Edit
          </button>
          <button type="button" className="danger" onClick={onRemove} aria-label={`Delete workflow ${w.name}`}>
            Delete
          </button>
        </div>
      )}
    </section>
  )
}

export function WorkflowsPage() {
  const list = useQuery(() => unwrap(api.GET('/api/v1/mappings/workflows')))
  const edits = useMappingEdits<Workflow>(list.reload)
  return (
    <MappingFrame
      title="Workflows"
      intro="The steps work items go through, in order. Cycle time runs from the first move into the commitment point to the first move into the delivery point; lead time ends there too. One workflow per type (* for every type)."
      edits={edits}
      newLabel="New workflow"
      form={{
        key: (w) => w.name,
        saved: 'the workflow',
        render: (workflow, done) => <WorkflowForm workflow={workflow} {...done} />,
      }}
    >
      <QueryView
        query={list}
        empty="No workflows yet: without one, the first move into In Progress commits and the first into Done delivers."
      >
        {(workflows) => (
          <div className="cards">
            {workflows.map((w) => (
              <WorkflowCard
                key={w.name}
                w={w}
                onEdit={() => edits.setEditing(w)}
                onRemove={() =>
                  edits.remove(`Delete workflow ${w.name}?`, 'the change', () =>
                    unwrap(
                      api.DELETE('/api/v1/mappings/workflows/{workflow_name}', {
                        params: { path: { workflow_name: w.name } },
                      }),
                    ),
                  )
                }
              />
            ))}
          </div>
        )}
      </QueryView>
    </MappingFrame>
  )
}
