import { useState } from 'react'
import { api, unwrap, type Schemas } from '../api/client'
import { Time } from '../components/bits'
import { EditForm, useSubmit } from '../components/EditForm'
import { Field } from '../components/Field'
import { QueryView } from '../components/States'
import { Table } from '../components/Table'
import { useQuery } from '../lib/hooks'

type Role = Schemas['UserOut']['role']
type User = Schemas['UserOut']
type NewKey = Schemas['NewApiKeyOut']
const ROLES: Role[] = ['viewer', 'editor', 'admin']

export function validateUser(d: { email: string; password: string }): Record<string, string> {
  const e: Record<string, string> = {}
  if (!/^[^@\s]+@[^@\s]+$/.test(d.email)) e.email = 'An email address.'
  if (d.password.length < 12) e.password = 'At least 12 characters.'
  return e
}

function RoleSelect({ label, value, onChange }: { label: string; value: Role; onChange: (r: Role) => void }) {
  return (
    <Field label={label}>
      {(p) => (
        <select {...p} value={value} onChange={(e) => onChange(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      )}
    </Field>
  )
}

function NewUserForm({ onDone }: { onDone: (created: boolean) => void }) {
  const [d, setD] = useState({ email: '', fullName: '', password: '', role: 'viewer' as Role })
  const { errors, message, busy, submit } = useSubmit()
  const set = (k: keyof typeof d) => (e: { target: { value: string } }) => setD({ ...d, [k]: e.target.value })
  async function save() {
    const draft = { ...d, email: d.email.trim() }
    const out = await submit(validateUser(draft), () =>
      unwrap(
        api.POST('/api/v1/users', {
          body: { email: draft.email, password: draft.password, role: draft.role, fullName: d.fullName.trim() || null },
        }),
      ),
    )
    if (out) onDone(true)
  }
  return (
    <EditForm title="New user" message={message} busy={busy} onSubmit={save} onCancel={() => onDone(false)}>
      <div className="grid">
        <Field label="Email" error={errors.email}>
          {(p) => <input {...p} type="email" autoComplete="off" value={d.email} onChange={set('email')} />}
        </Field>
        <Field label="Full name" error={errors.fullName}>
          {(p) => <input {...p} value={d.fullName} onChange={set('fullName')} />}
        </Field>
        <Field label="Password" error={errors.password} hint="At least 12 characters; tell it to the user yourself.">
          {(p) => (
            <input {...p} type="password" autoComplete="new-password" value={d.password} onChange={set('password')} />
          )}
        </Field>
        <RoleSelect label="Role" value={d.role} onChange={(role) => setD({ ...d, role })} />
      </div>
    </EditForm>
  )
}

function Users({ me }: { me: number | null }) {
  const users = useQuery(() => unwrap(api.GET('/api/v1/users')))
  const [adding, setAdding] = useState(false)
  const [notice, setNotice] = useState('')

  async function change(user: User, body: { role?: Role; isActive?: boolean }, what: string) {
    try {
      await unwrap(api.PATCH('/api/v1/users/{user_id}', { params: { path: { user_id: user.id } }, body }))
      setNotice(`${user.email}: ${what}.`)
    } catch (e) {
      setNotice(`${user.email}: ${(e as Error).message}`)
    }
    users.reload()
  }
  async function remove(user: User) {
    if (!window.confirm(`Delete user ${user.email}?`)) return
    try {
      await unwrap(api.DELETE('/api/v1/users/{user_id}', { params: { path: { user_id: user.id } } }))
      setNotice(`${user.email} deleted.`)
    } catch (e) {
      setNotice(`${user.email}: ${(e as Error).message}`)
    }
    users.reload()
  }

  return (
    <section aria-labelledby="h-users">
      <h2 id="h-users">Users</h2>
      {adding ? (
        <NewUserForm
          onDone={(created) => {
            setAdding(false)
            if (created) users.reload()
          }}
        />
      ) : (
        <button type="button" className="primary" onClick={() => setAdding(true)}>
          New user
        </button>
      )}
      <p role="status" className="notice">
        {notice}
      </p>
      <QueryView query={users} empty="No users in this tenant.">
        {(list) => (
          <Table caption="Users of this tenant" columns={['Email', 'Name', 'Role', 'Active', 'Created', 'Actions']}>
            {list.map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.email}</th>
                <td>{u.fullName ?? ''}</td>
                <td>
                  <select
                    aria-label={`Role of ${u.email}`}
                    value={u.role}
                    disabled={u.id === me}
                    onChange={(e) => change(u, { role: e.target.value as Role }, `now ${e.target.value}`)}
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`${u.email} may log in`}
                    checked={u.isActive}
                    disabled={u.id === me}
                    onChange={(e) =>
                      change(
                        u,
                        { isActive: e.target.checked },
                        e.target.checked ? 'may log in' : 'may no longer log in',
                      )
                    }
                  />
                </td>
                <td>
                  <Time value={u.createdAt} />
                </td>
                <td className="actions">
                  {u.id !== me && (
                    <button type="button" className="danger" onClick={() => remove(u)} aria-label={`Delete ${u.email}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </section>
  )
}

function NewKeyForm({ onDone }: { onDone: (key?: NewKey) => void }) {
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const { errors, message, busy, submit } = useSubmit()
  async function save() {
    const check: Record<string, string> = name.trim() ? {} : { name: 'A name that says where the key is used.' }
    const out = await submit(check, () => unwrap(api.POST('/api/v1/api-keys', { body: { name: name.trim(), role } })))
    if (out) onDone(out)
  }
  return (
    <EditForm title="New API key" message={message} busy={busy} onSubmit={save} onCancel={() => onDone()}>
      <div className="grid">
        <Field label="Name" error={errors.name} hint="e.g. ci-pipeline">
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <RoleSelect label="Role" value={role} onChange={setRole} />
      </div>
    </EditForm>
  )
}

function ApiKeys() {
  const keys = useQuery(() => unwrap(api.GET('/api/v1/api-keys')))
  const [adding, setAdding] = useState(false)
  const [created, setCreated] = useState<NewKey>()
  const [notice, setNotice] = useState('')

  async function revoke(id: number, name: string) {
    if (!window.confirm(`Revoke API key ${name}? Whatever uses it stops working.`)) return
    try {
      await unwrap(api.DELETE('/api/v1/api-keys/{key_id}', { params: { path: { key_id: id } } }))
      setNotice(`API key ${name} revoked.`)
    } catch (e) {
      setNotice(`API key ${name}: ${(e as Error).message}`)
    }
    keys.reload()
  }

  return (
    <section aria-labelledby="h-keys">
      <h2 id="h-keys">API keys</h2>
      {created && (
        <div className="panel offer" role="region" aria-label="The new API key">
          <p>
            <strong>{created.name}</strong>: copy the key now, it is shown only this once.
          </p>
          <Field label="Key">
            {(p) => <input {...p} readOnly value={created.key} onFocus={(e) => e.target.select()} />}
          </Field>
          <div className="actions">
            <button type="button" onClick={() => navigator.clipboard?.writeText(created.key)}>
              Copy
            </button>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
      {adding ? (
        <NewKeyForm
          onDone={(key) => {
            setAdding(false)
            if (key) {
              setCreated(key)
              keys.reload()
            }
          }}
        />
      ) : (
        <button type="button" className="primary" onClick={() => setAdding(true)}>
          New API key
        </button>
      )}
      <p role="status" className="notice">
        {notice}
      </p>
      <QueryView query={keys} empty="No API keys yet.">
        {(list) => (
          <Table
            caption="API keys of this tenant"
            columns={['Name', 'Prefix', 'Role', 'Created', 'Last used', 'State', 'Actions']}
          >
            {list.map((k) => (
              <tr key={k.id}>
                <th scope="row">{k.name}</th>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.role}</td>
                <td>
                  <Time value={k.createdAt} />
                </td>
                <td>
                  <Time value={k.lastUsedAt} />
                </td>
                <td>
                  {k.revokedAt ? (
                    <>
                      revoked <Time value={k.revokedAt} />
                    </>
                  ) : (
                    'active'
                  )}
                </td>
                <td className="actions">
                  {!k.revokedAt && (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => revoke(k.id, k.name)}
                      aria-label={`Revoke API key ${k.name}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </QueryView>
    </section>
  )
}

/** Users and API keys of the tenant (admins only). */
export function AdminPage({ me }: { me: number | null }) {
  return (
    <>
      <h1>Users and API keys</h1>
      <Users me={me} />
      <ApiKeys />
    </>
  )
}
