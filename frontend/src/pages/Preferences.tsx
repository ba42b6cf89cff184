import { useState, type FormEvent } from 'react'
import { api, ApiError, unwrap } from '../api/client'
import { Field } from '../components/Field'
import { formatTime } from '../lib/format'
import { browserZone, prefsFrom, usePrefs, type Prefs } from '../lib/prefs'

const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.(
  'timeZone',
) ?? ['UTC']

export function PreferencesPage() {
  const { prefs, setPrefs } = usePrefs()
  const [draft, setDraft] = useState<Prefs>(prefs)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [status, setStatus] = useState('')

  async function submit(event: FormEvent) {
    event.preventDefault()
    setStatus('')
    setErrors({})
    try {
      const saved = await unwrap(
        api.PUT('/api/v1/me/preferences', {
          body: { theme: draft.theme, timeZone: draft.timeZone, defaultTenant: draft.defaultTenant || null },
        }),
      )
      setPrefs(prefsFrom(saved))
      setStatus('Preferences saved.')
    } catch (error) {
      if (error instanceof ApiError) {
        setErrors(error.fields)
        setStatus(error.message)
      } else setStatus(String(error))
    }
  }

  return (
    <>
      <h1>Preferences</h1>
      <form onSubmit={submit} noValidate className="panel" aria-label="Preferences">
        <fieldset>
          <legend>Theme</legend>
          {(['light', 'dark', 'system'] as const).map((t) => (
            <label key={t} className="check">
              <input
                type="radio"
                name="theme"
                value={t}
                checked={draft.theme === t}
                onChange={() => setDraft({ ...draft, theme: t })}
              />{' '}
              {t}
            </label>
          ))}
        </fieldset>
        <Field
          label="Time zone"
          error={errors.timeZone}
          hint={`Now there: ${formatTime(new Date().toISOString(), ZONES.includes(draft.timeZone) || draft.timeZone === 'UTC' ? draft.timeZone : 'UTC')}${draft.timeZone === browserZone ? ' (your browser’s zone)' : ''}`}
        >
          {(p) => (
            <input
              {...p}
              list="zones"
              value={draft.timeZone}
              onChange={(e) => setDraft({ ...draft, timeZone: e.target.value })}
            />
          )}
        </Field>
        <datalist id="zones">
          {ZONES.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <Field
          label="Default tenant"
          error={errors.defaultTenant}
          hint="For accounts that act in more than one tenant."
        >
          {(p) => (
            <input
              {...p}
              value={draft.defaultTenant ?? ''}
              onChange={(e) => setDraft({ ...draft, defaultTenant: e.target.value || null })}
            />
          )}
        </Field>
        <div className="actions">
          <button type="submit" className="primary">
            Save preferences
          </button>
          <span role="status">{status}</span>
        </div>
      </form>
    </>
  )
}
