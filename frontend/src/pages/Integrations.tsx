import { useState, type FormEvent } from 'react'
import { api, unwrap, type Integration, type Schemas } from '../api/client'
import { Field } from '../components/Field'
import { Phase, Time } from '../components/bits'
import { QueryView } from '../components/States'
import { apiFailure, errorFor, NAME, splitList } from '../lib/forms'
import { useQuery } from '../lib/hooks'
import { useCanEdit } from '../lib/me'
import { Table } from '../components/Table'

type Check = Schemas['CheckOut']

interface Draft {
  name: string
  type: 'jira' | 'github'
  baseUrl: string
  projects: string
  org: string
  repos: string
  requestsPerHour: string
  email: string
  token: string
}

function draftOf(i?: Integration): Draft {
  const scope = (i?.scope ?? {}) as { projects?: string[]; org?: string; repos?: string[] }
  return {
    name: i?.name ?? '',
    type: (i?.type as Draft['type']) ?? 'jira',
    baseUrl: i?.baseUrl ?? '',
    projects: (scope.projects ?? []).join(', '),
    org: scope.org ?? '',
    repos: (scope.repos ?? []).join(', '),
    requestsPerHour: String((i?.budget as { requestsPerHour?: number })?.requestsPerHour ?? 5000),
    email: '',
    token: '',
  }
}

/** What the form checks before sending; the API checks the rest and its 422 lands on the same fields. */
export function validateIntegration(d: Draft, creating: boolean): Record<string, string> {
  const e: Record<string, string> = {}
  if (creating && !NAME.test(d.name))
    e.name = 'Lower-case letters, digits and dashes; starts and ends with a letter or digit.'
  if (!/^https?:\/\/\S+$/.test(d.baseUrl)) e.baseUrl = 'A URL starting with http:// or https://.'
  if (d.type === 'jira' && splitList(d.projects).length === 0) e['scope.projects'] = 'At least one project key.'
  if (d.type === 'github' && !d.org.trim()) e['scope.org'] = 'The organisation.'
  if (!/^\d+$/.test(d.requestsPerHour) || Number(d.requestsPerHour) < 1)
    e['budget.requestsPerHour'] = 'A whole number of at least 1.'
  if (creating && !d.token) e['credentials.token'] = 'The API token is required for a new integration.'
  if (d.type === 'jira' && d.token && !d.email.includes('@'))
    e['credentials.email'] = 'Jira needs the account email with its token.'
  return e
}

function IntegrationForm({ existing, onDone }: { existing?: Integration; onDone: (name: string) => void }) {
  const [d, setD] = useState<Draft>(() => draftOf(existing))
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)
  const creating = !existing
  const set = (k: keyof Draft) => (e: { target: { value: string } }) => setD({ ...d, [k]: e.target.value })

  async function submit(event: FormEvent) {
    event.preventDefault()
    const found = validateIntegration(d, creating)
    setErrors(found)
    setMessage(Object.keys(found).length ? 'Some fields need attention.' : '')
    if (Object.keys(found).length) return
    const body = {
      type: d.type,
      baseUrl: d.baseUrl.trim(),
      scope: d.type === 'jira' ? { projects: splitList(d.projects) } : { org: d.org.trim(), repos: splitList(d.repos) },
      budget: { requestsPerHour: Number(d.requestsPerHour) },
      credentials: d.token ? { token: d.token, ...(d.type === 'jira' ? { email: d.email.trim() } : {}) } : undefined,
    }
    setBusy(true)
    try {
      if (creating) await unwrap(api.POST('/api/v1/integrations', { body: { ...body, name: d.name } }))
      else await unwrap(api.PUT('/api/v1/integrations/{name}', { params: { path: { name: existing.name } }, body }))
      onDone(creating ? d.name : existing.name)
    } catch (error) {
      const failure = apiFailure(error, 'name')
      setErrors(failure.fields)
      setMessage(failure.message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form
      onSubmit={submit}
      noValidate
      aria-label={creating ? 'New integration' : `Edit ${existing.name}`}
      className="panel"
    >
      <h2>{creating ? 'New integration' : `Edit ${existing.name}`}</h2>
      {message && (
        <p className="form-error" role="alert">
          {message}
        </p>
      )}
      <div className="grid">
        {creating && (
          <Field label="Name" error={errors.name}>
            {(p) => <input {...p} value={d.name} onChange={set('name')} placeholder="acme-jira" />}
          </Field>
        )}
        <Field label="Type" error={errors.type}>
          {(p) => (
            <select {...p} value={d.type} onChange={set('type')}>
              <option value="jira">Jira</option>
              <option value="github">GitHub</option>
            </select>
          )}
        </Field>
        <Field label="Base URL" error={errors.baseUrl}>
          {(p) => <input {...p} value={d.baseUrl} onChange={set('baseUrl')} placeholder="https://acme.atlassian.net" />}
        </Field>
        {d.type === 'jira' ? (
          <Field
            label="Projects"
            error={errorFor(errors, 'scope.projects') ?? errorFor(errors, 'scope')}
            hint="Keys, comma separated"
          >
            {(p) => <input {...p} value={d.projects} onChange={set('projects')} placeholder="ENG, OPS" />}
          </Field>
        ) : (
          <>
            <Field label="Organisation" error={errorFor(errors, 'scope.org') ?? errorFor(errors, 'scope')}>
              {(p) => <input {...p} value={d.org} onChange={set('org')} />}
            </Field>
            <Field label="Repositories" error={errorFor(errors, 'scope.repos')} hint="Comma separated; empty for all">
              {(p) => <input {...p} value={d.repos} onChange={set('repos')} />}
            </Field>
          </>
        )}
        <Field label="Requests per hour" error={errorFor(errors, 'budget')}>
          {(p) => <input {...p} inputMode="numeric" value={d.requestsPerHour} onChange={set('requestsPerHour')} />}
        </Field>
        {d.type === 'jira' && (
          <Field label="Account email" error={errorFor(errors, 'credentials.email')}>
            {(p) => <input {...p} type="email" autoComplete="off" value={d.email} onChange={set('email')} />}
          </Field>
        )}
        <Field
          label="API token"
          error={errorFor(errors, 'credentials.token') ?? errorFor(errors, 'credentials')}
          hint={
            creating
              ? 'Stored encrypted; never shown again.'
              : `Currently ${existing.credentials.set ? 'set' : 'not set'}; leave empty to keep it.`
          }
        >
          {(p) => <input {...p} type="password" autoComplete="new-password" value={d.token} onChange={set('token')} />}
        </Field>
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {creating ? 'Create integration' : 'Save'}
        </button>
        <button type="button" onClick={() => onDone('')}>
          Cancel
        </button>
      </div>
    </form>
  )
}

/** Why an integration is not ready, from its first condition that does not hold ('' when all hold). */
export function notReadyReason(conditions: Schemas['ConditionOut'][]): string {
  const failing = conditions.find((c) => c.status !== 'True')
  if (!failing) return ''
  return failing.message ? `${failing.reason}: ${failing.message}` : failing.reason
}

/** Test, edit and delete of one integration, with the outcome of its last test; nothing for a viewer. */
export function IntegrationActions({
  name,
  check,
  onTest,
  onEdit,
  onDelete,
}: {
  name: string
  check?: Check | 'busy' | string
  onTest: () => void
  onEdit: () => void
  onDelete: () => void
}) {
  if (!useCanEdit()) return null
  return (
    <>
      <button type="button" onClick={onTest} disabled={check === 'busy'} aria-label={`Test connection of ${name}`}>
        Test connection
      </button>
      <button type="button" onClick={onEdit} aria-label={`Edit ${name}`}>
        Edit
      </button>
      <button type="button" className="danger" onClick={onDelete} aria-label={`Delete ${name}`}>
        Delete
      </button>
      <span role="status" className="check">
        {check === 'busy'
          ? 'Testing…'
          : typeof check === 'string'
            ? check
            : check
              ? `${check.ready ? 'Connected' : 'Failed'}: ${check.reason}${check.message ? ` — ${check.message}` : ''}`
              : ''}
      </span>
    </>
  )
}

export function IntegrationsPage() {
  const canEdit = useCanEdit()
  const list = useQuery(() => unwrap(api.GET('/api/v1/integrations')))
  const [editing, setEditing] = useState<Integration | 'new' | null>(null)
  const [checks, setChecks] = useState<Record<string, Check | 'busy' | string>>({})

  async function test(name: string) {
    setChecks((c) => ({ ...c, [name]: 'busy' }))
    try {
      const result = await unwrap(api.POST('/api/v1/integrations/{name}/test', { params: { path: { name } } }))
      setChecks((c) => ({ ...c, [name]: result }))
    } catch (error) {
      setChecks((c) => ({ ...c, [name]: (error as Error).message }))
    }
    list.reload()
  }

  async function remove(name: string) {
    if (!window.confirm(`Delete integration ${name}?`)) return
    try {
      await unwrap(api.DELETE('/api/v1/integrations/{name}', { params: { path: { name } } }))
    } catch (error) {
      setChecks((c) => ({ ...c, [name]: (error as Error).message }))
    }
    list.reload()
  }

  return (
    <>
      <h1>Integrations</h1>
      {editing ? (
        <IntegrationForm
          key={editing === 'new' ? 'new' : editing.name}
          existing={editing === 'new' ? undefined : editing}
          onDone={() => {
            setEditing(null)
            list.reload()
          }}
        />
      ) : canEdit ? (
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          New integration
        </button>
      ) : (
        <p className="muted">Creating, changing and testing integrations needs the editor role.</p>
      )}
      <QueryView query={list} empty="No integrations yet: create one to connect Jira or GitHub.">
        {(items) => (
          <Table
            caption="Integrations of this tenant"
            columns={[
              'Name',
              'Type',
              'Base URL',
              'Credentials',
              'Phase',
              'Last check',
              ...(canEdit ? ['Actions'] : []),
            ]}
          >
            {items.map((i) => (
              <tr key={i.name}>
                <th scope="row">{i.name}</th>
                <td>{i.type}</td>
                <td className="wrap">{i.baseUrl}</td>
                <td>{i.credentials.set ? 'set' : 'not set'}</td>
                <td>
                  <Phase phase={i.phase ?? 'Pending'} />
                  {notReadyReason(i.conditions) && (
                    <small className="muted wrap block">{notReadyReason(i.conditions)}</small>
                  )}
                </td>
                <td>
                  <Time value={i.lastCheckTime} />
                </td>
                {canEdit && (
                  <td className="actions">
                    <IntegrationActions
                      name={i.name}
                      check={checks[i.name]}
                      onTest={() => test(i.name)}
                      onEdit={() => setEditing(i)}
                      onDelete={() => remove(i.name)}
                    />
                  </td>
                )}
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </>
  )
}
