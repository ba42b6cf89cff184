import { useState, type FormEvent, type ReactNode } from 'react'
import { apiFailure } from '../lib/forms'

/**
 * A form's errors and sending: `check()` runs first (its errors show at once, nothing is sent), then
 * `send()`; a 422 puts the API's messages on the fields it names.
 */
export function useSubmit() {
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)
  async function submit<T>(check: Record<string, string>, send: () => Promise<T>): Promise<T | undefined> {
    setErrors(check)
    setMessage(Object.keys(check).length ? 'Some fields need attention.' : '')
    if (Object.keys(check).length) return undefined
    setBusy(true)
    try {
      return await send()
    } catch (error) {
      const { fields, message } = apiFailure(error)
      setErrors(fields)
      setMessage(message)
      return undefined
    } finally {
      setBusy(false)
    }
  }
  return { errors, message, busy, submit }
}

/** A titled panel form with its message, fields, and Save / Cancel. */
export function EditForm({
  title,
  message,
  busy,
  onSubmit,
  onCancel,
  submitLabel = 'Save',
  children,
}: {
  title: string
  message: string
  busy: boolean
  onSubmit: () => void
  onCancel: () => void
  submitLabel?: string
  children: ReactNode
}) {
  return (
    <form
      className="panel"
      aria-label={title}
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault()
        onSubmit()
      }}
    >
      <h2>{title}</h2>
      {message && (
        <p className="form-error" role="alert">
          {message}
        </p>
      )}
      {children}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  )
}
