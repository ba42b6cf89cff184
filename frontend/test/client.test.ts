import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, authedFetch, describe as describeError, loadSession, saveSession } from '../src/api/client'

afterEach(() => {
  vi.unstubAllGlobals()
  saveSession(null)
})

describe('API errors', () => {
  it('puts 422 messages on the fields their loc names', () => {
    const error = new ApiError(422, {
      detail: [
        { loc: ['body', 'baseUrl'], msg: "String should match pattern '^https?://'" },
        { loc: ['body', 'scope', 'projects', 1], msg: 'String should match pattern' },
        { loc: ['body'], msg: 'Value error, credentials are required when creating an integration' },
      ],
    })
    expect(error.status).toBe(422)
    expect(error.fields).toEqual({
      baseUrl: "String should match pattern '^https?://'",
      'scope.projects.1': 'String should match pattern',
    })
    expect(error.message).toBe('credentials are required when creating an integration')
  })
  it('keeps a plain detail as the message', () => {
    expect(describeError({ detail: 'job x not found' })).toEqual({ message: 'job x not found', fields: {} })
    expect(new ApiError(500, null).message).toBe('request failed (500)')
  })
})

describe('authedFetch', () => {
  it('sends the bearer token, and on a 401 refreshes once and retries', async () => {
    saveSession({ accessToken: 'old', refreshToken: 'r1' })
    const seen: string[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: Request | string, init?: RequestInit) => {
        if (typeof input === 'string') {
          seen.push(`refresh ${JSON.parse(String(init?.body)).refresh_token}`)
          return new Response(JSON.stringify({ access_token: 'new', refresh_token: 'r2' }), { status: 200 })
        }
        seen.push(`${input.method} ${input.headers.get('Authorization')} ${await input.text()}`)
        return new Response('{}', { status: input.headers.get('Authorization') === 'Bearer new' ? 200 : 401 })
      }),
    )
    const response = await authedFetch(new Request('http://x/api/v1/jobs', { method: 'POST', body: '{"a":1}' }))
    expect(response.status).toBe(200)
    expect(seen).toEqual(['POST Bearer old {"a":1}', 'refresh r1', 'POST Bearer new {"a":1}'])
    expect(loadSession()).toEqual({ accessToken: 'new', refreshToken: 'r2' })
  })
  it('ends the session when the refresh token is refused', async () => {
    saveSession({ accessToken: 'old', refreshToken: 'r1' })
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response('{}', { status: 401 })),
    )
    const response = await authedFetch(new Request('http://x/api/v1/jobs'))
    expect(response.status).toBe(401)
    expect(loadSession()).toBeNull()
  })
})
