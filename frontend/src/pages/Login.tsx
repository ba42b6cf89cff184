import { useState, type FormEvent } from 'react'
import { ApiError, login } from '../api/client'
import { Field } from '../components/Field'

export function LoginPage() {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)

  async function submit(event: FormEvent) {
    event.preventDefault()
    const found: Record<string, string> = {}
    if (!email.includes('@')) found.username = 'Enter the email you log in with.'
    if (!password) found.password = 'Enter your password.'
    setErrors(found)
    setMessage('')
    if (Object.keys(found).length) return
    setBusy(true)
    try {
      // The session change re-renders the app, whose /login route then goes on to ?next.
      await login(email, password)
    } catch (error) {
      setMessage(error instanceof ApiError ? error.message : 'The server did not answer.')
      if (error instanceof ApiError) setErrors(error.fields)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" className="login">
      <h1>Quarry</h1>
      <form onSubmit={submit} noValidate aria-label="Log in">
        <h2>Log in</h2>
        {message && (
          <p className="form-error" role="alert">
            {message}
          </p>
        )}
        <Field label="Email" error={errors.username}>
          {(p) => (
            <input
              {...p}
              type="email"
              autoComplete="username"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          )}
        </Field>
        <Field label="Password" error={errors.password}>
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  )
}
