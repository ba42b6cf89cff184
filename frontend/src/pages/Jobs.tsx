import { useState, type FormEvent } from 'react'
import { Link, useNavigate } from 'react-router-dom'
import { api, unwrap, type Schemas } from '../api/client'
import { Field } from '../components/Field'
import { ScheduleField, scheduleCheck } from '../components/ScheduleField'
import { Phase, Time } from '../components/bits'
import { QueryView } from '../components/States'
import { apiFailure, errorFor, NAME } from '../lib/forms'
import { useInterval, useLive, useQuery } from '../lib/hooks'
import { useCanEdit } from '../lib/me'
import { Table } from '../components/Table'

type Entity = Schemas['Entity']
export const ENTITIES: Record<string, Entity[]> = {
  jira: ['projects', 'issue_types', 'statuses', 'fields', 'boards', 'sprints', 'issues'],
  github: ['repositories', 'pull_requests', 'commits'],
}

function NewJobForm({ onDone }: { onDone: (name?: string) => void }) {
  const integrations = useQuery(() => unwrap(api.GET('/api/v1/integrations')))
  const [name, setName] = useState('')
  const [integration, setIntegration] = useState('')
  const [entities, setEntities] = useState<Entity[]>([])
  const [mode, setMode] = useState<'incremental' | 'full'>('incremental')
  const [schedule, setSchedule] = useState('')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const type = integrations.data?.find((i) => i.name === integration)?.type

  async function submit(event: FormEvent) {
    event.preventDefault()
    const found: Record<string, string> = {}
    if (!NAME.test(name)) found.name = 'Lower-case letters, digits and dashes.'
    if (!integration) found.integration = 'Choose the integration to extract from.'
    if (!entities.length) found.entities = 'Choose at least one entity.'
    const cron = scheduleCheck(schedule)
    if (cron.error) found.schedule = cron.error
    setErrors(found)
    setMessage('')
    if (Object.keys(found).length) return
    try {
      await unwrap(
        api.POST('/api/v1/jobs', {
          body: { name, integration, entities, mode, schedule: schedule.trim() || null, suspend: false },
        }),
      )
      onDone(name)
    } catch (error) {
      const failure = apiFailure(error, 'name')
      setErrors(failure.fields)
      setMessage(failure.message)
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label="New job" className="panel">
      <h2>New job</h2>
      {message && (
        <p className="form-error" role="alert">
          {message}
        </p>
      )}
      <div className="grid">
        <Field label="Name" error={errors.name}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Integration" error={errors.integration}>
          {(p) => (
            <select
              {...p}
              value={integration}
              onChange={(e) => {
                setIntegration(e.target.value)
                setEntities([])
              }}
            >
              <option value="">Choose…</option>
              {(integrations.data ?? []).map((i) => (
                <option key={i.name} value={i.name}>
                  {i.name} ({i.type})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Mode" error={errors.mode}>
          {(p) => (
            <select {...p} value={mode} onChange={(e) => setMode(e.target.value as 'full' | 'incremental')}>
              <option value="incremental">incremental</option>
              <option value="full">full</option>
            </select>
          )}
        </Field>
        <ScheduleField value={schedule} onChange={setSchedule} error={errors.schedule} />
      </div>
      <fieldset aria-invalid={Boolean(errorFor(errors, 'entities'))}>
        <legend>Entities</legend>
        {type ? (
          ENTITIES[type].map((e) => (
            <label key={e} className="check">
              <input
                type="checkbox"
                checked={entities.includes(e)}
                onChange={(ev) => setEntities(ev.target.checked ? [...entities, e] : entities.filter((x) => x !== e))}
              />{' '}
              {e}
            </label>
          ))
        ) : (
          <span className="muted">Choose an integration first.</span>
        )}
        {errorFor(errors, 'entities') && <small className="field-error">{errorFor(errors, 'entities')}</small>}
      </fieldset>
      <div className="actions">
        <button type="submit" className="primary">
          Create job
        </button>
        <button type="button" onClick={() => onDone()}>
          Cancel
        </button>
      </div>
    </form>
  )
}

export function JobsPage() {
  const jobs = useQuery(() => unwrap(api.GET('/api/v1/jobs')))
  const [creating, setCreating] = useState(false)
  const navigate = useNavigate()
  const canEdit = useCanEdit()
  useLive((event) => event.kind === 'run' && jobs.reload())
  useInterval(jobs.reload, 15000)
  return (
    <>
      <h1>Jobs</h1>
      {creating ? (
        <NewJobForm
          onDone={(name) => {
            setCreating(false)
            if (name) navigate(`/jobs/${name}`)
          }}
        />
      ) : canEdit ? (
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New job
        </button>
      ) : (
        <p className="muted">Creating, starting and stopping jobs needs the editor role.</p>
      )}
      <QueryView query={jobs} empty="No jobs yet.">
        {(list) => (
          <Table
            caption="Jobs of this tenant"
            columns={['Name', 'Integration', 'Phase', 'Progress', 'Last success', 'Next scheduled']}
          >
            {list.map((j) => (
              <tr key={j.name}>
                <th scope="row">
                  <Link to={`/jobs/${j.name}`}>{j.name}</Link>
                </th>
                <td>{j.integration}</td>
                <td>
                  <Phase phase={j.suspend ? 'Suspended' : j.phase} />
                </td>
                <td>{j.progress || '—'}</td>
                <td>
                  <Time value={j.lastSuccessfulTime} />
                </td>
                <td>
                  <Time value={j.nextScheduleTime} />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </>
  )
}
