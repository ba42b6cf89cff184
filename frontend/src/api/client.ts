import createClient from 'openapi-fetch'
import type { components, paths } from './schema'

export type Schemas = components['schemas']
export type Job = Schemas['JobOut']
export type Run = Schemas['RunOut']
export type Integration = Schemas['IntegrationOut']
export type EntityCounts = Schemas['EntityCountsOut']

const KEY = 'quarry.session'

export interface Session {
  accessToken: string
  refreshToken: string
}

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(KEY)
    return raw ? (JSON.parse(raw) as Session) : null
  } catch {
    return null
  }
}

const listeners = new Set<(s: Session | null) => void>()

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session))
  else localStorage.removeItem(KEY)
  listeners.forEach((fn) => fn(session))
}

export function onSessionChange(fn: (s: Session | null) => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

/** An API answer other than 2xx, with the 422 messages by field (`body.baseUrl` → `baseUrl`). */
export class ApiError extends Error {
  status: number
  fields: Record<string, string>
  constructor(status: number, detail: unknown) {
    const { message, fields } = describe(detail)
    super(message || `request failed (${status})`)
    this.status = status
    this.fields = fields
  }
}

interface ValidationItem {
  loc?: (string | number)[]
  msg?: string
}

export function describe(detail: unknown): { message: string; fields: Record<string, string> } {
  const body = detail as { detail?: unknown } | null
  const inner = body && typeof body === 'object' && 'detail' in body ? body.detail : detail
  if (typeof inner === 'string') return { message: inner, fields: {} }
  const fields: Record<string, string> = {}
  const general: string[] = []
  if (Array.isArray(inner)) {
    for (const item of inner as ValidationItem[]) {
      const msg = (item.msg ?? 'invalid').replace(/^Value error, /, '')
      const loc = (item.loc ?? []).filter((p) => p !== 'body' && p !== 'query' && p !== 'path')
      const field = loc.join('.')
      if (field) fields[field] = fields[field] ? `${fields[field]}; ${msg}` : msg
      else general.push(msg)
    }
  }
  const message = general.join('; ') || (Object.keys(fields).length ? 'Some fields need attention.' : '')
  return { message, fields }
}

let refreshing: Promise<boolean> | null = null

async function refresh(): Promise<boolean> {
  const session = loadSession()
  if (!session) return false
  const response = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: session.refreshToken }),
  })
  if (!response.ok) {
    saveSession(null)
    return false
  }
  const body = await response.json()
  saveSession({ accessToken: body.access_token, refreshToken: body.refresh_token })
  return true
}

/** Adds the bearer token; on a 401 trades the refresh token once and retries. */
export async function authedFetch(input: Request): Promise<Response> {
  const retry = input.clone()
  const send = (req: Request) => {
    const token = loadSession()?.accessToken
    if (token) req.headers.set('Authorization', `Bearer ${token}`)
    return fetch(req)
  }
  const response = await send(input)
  if (response.status !== 401 || !loadSession()) return response
  refreshing ??= refresh().finally(() => {
    refreshing = null
  })
  return (await refreshing) ? send(retry) : response
}

export const api = createClient<paths>({ baseUrl: '', fetch: authedFetch })

/** The data of an openapi-fetch answer, or an ApiError thrown. */
export async function unwrap<T>(promise: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await promise
  if (!response.ok) throw new ApiError(response.status, error)
  return data as T
}

export async function login(email: string, password: string): Promise<void> {
  const response = await fetch('/api/v1/auth/login', {
    method: 'POST',
    body: new URLSearchParams({ username: email, password }),
  })
  const body = await response.json().catch(() => null)
  if (!response.ok) throw new ApiError(response.status, body)
  saveSession({ accessToken: body.access_token, refreshToken: body.refresh_token })
}

export async function logout(): Promise<void> {
  const session = loadSession()
  saveSession(null)
  if (session) {
    await api.POST('/api/v1/auth/logout', { body: { refresh_token: session.refreshToken } }).catch(() => undefined)
  }
}
