import { ApiError } from '../api/client'

/** The first error for a field, including errors of its parts (`scope.projects.0` for `scope.projects`). */
export function errorFor(fields: Record<string, string>, key: string): string | undefined {
  if (fields[key]) return fields[key]
  const nested = Object.keys(fields).find((k) => k.startsWith(`${key}.`))
  return nested ? fields[nested] : undefined
}

export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)
}

export const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** Messages of a form: its own checks first, then the API's answer (422 fields, or one message). A 409
 * (the name is taken) lands on `conflictField` when the form has one. */
export function apiFailure(
  error: unknown,
  conflictField?: string,
): { fields: Record<string, string>; message: string } {
  if (error instanceof ApiError && error.status === 409 && conflictField)
    return { fields: { [conflictField]: error.message }, message: error.message }
  if (error instanceof ApiError) return { fields: error.fields, message: error.message }
  return { fields: {}, message: String(error) }
}
