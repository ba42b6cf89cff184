import { cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Run, Schemas } from '../src/api/client'
import { describe as describeChart } from '../src/components/Chart'
import { Field } from '../src/components/Field'
import { rate } from '../src/components/LiveRun'
import { ScheduleField } from '../src/components/ScheduleField'
import { QueryView } from '../src/components/States'
import { loadedPerDay } from '../src/pages/Home'
import { validateIntegration } from '../src/pages/Integrations'
import { drainRates } from '../src/pages/Queues'

afterEach(cleanup)

const query = <T,>(over: Partial<{ data: T; error: Error; loading: boolean }>) => ({
  loading: false,
  reload: vi.fn(),
  ...over,
})

describe('QueryView', () => {
  it('shows loading, error with retry, empty, then the data', () => {
    const { rerender } = render(<QueryView query={query<string[]>({ loading: true })}>{() => 'data'}</QueryView>)
    expect(screen.getByRole('status').textContent).toBe('Loading…')
    const failed = query<string[]>({ error: new Error('boom') })
    rerender(<QueryView query={failed}>{() => 'data'}</QueryView>)
    expect(screen.getByRole('alert').textContent).toContain('Could not load: boom')
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }))
    expect(failed.reload).toHaveBeenCalled()
    rerender(
      <QueryView query={query({ data: [] as string[] })} empty="Nothing yet.">
        {() => 'data'}
      </QueryView>,
    )
    expect(screen.getByText('Nothing yet.')).toBeTruthy()
    rerender(
      <QueryView query={query({ data: ['a'] })} empty="Nothing yet.">
        {(d) => d.join()}
      </QueryView>,
    )
    expect(screen.getByText('a')).toBeTruthy()
  })
})

describe('Field', () => {
  it('labels its control and ties the error to it', () => {
    render(
      <Field label="Base URL" error="A URL starting with http://" hint="where">
        {(p) => <input {...p} />}
      </Field>,
    )
    const input = screen.getByLabelText('Base URL')
    expect(input.getAttribute('aria-invalid')).toBe('true')
    const described = input
      .getAttribute('aria-describedby')!
      .split(' ')
      .map((id) => document.getElementById(id)!.textContent)
    expect(described).toEqual(['where', 'A URL starting with http://'])
  })
})

describe('ScheduleField', () => {
  it('shows the next runs, or the error inline', () => {
    const { rerender } = render(<ScheduleField value="@daily" onChange={() => undefined} />)
    expect(screen.getByText(/Next runs \(/).textContent).toMatch(/00:00:00 ·/)
    rerender(<ScheduleField value="* * 32 * *" onChange={() => undefined} />)
    expect(screen.getByLabelText('Schedule (cron, UTC)').getAttribute('aria-invalid')).toBe('true')
    expect(screen.getByText('"32" is outside 1-31')).toBeTruthy()
  })
})

describe('page logic', () => {
  it('checks an integration before sending it', () => {
    const draft = {
      name: 'Bad_Name',
      type: 'jira' as const,
      baseUrl: 'x',
      projects: '',
      org: '',
      repos: '',
      requestsPerHour: '0',
      email: '',
      token: 't',
    }
    expect(Object.keys(validateIntegration(draft, true)).sort()).toEqual(
      ['baseUrl', 'budget.requestsPerHour', 'credentials.email', 'name', 'scope.projects'].sort(),
    )
    const ok = {
      ...draft,
      name: 'acme',
      baseUrl: 'https://a.io',
      projects: 'ENG',
      requestsPerHour: '10',
      email: 'a@b.c',
    }
    expect(validateIntegration(ok, true)).toEqual({})
    expect(validateIntegration({ ...ok, token: '', email: '' }, false)).toEqual({})
    expect(validateIntegration({ ...ok, token: '' }, true)).toHaveProperty('credentials.token')
  })

  it('sums records loaded per day in the user time zone', () => {
    const run = (finishedAt: string, loaded: number) =>
      ({ finishedAt, createdAt: finishedAt, counts: { issues: { loaded }, sprints: { loaded: 1 } } }) as unknown as Run
    const runs = [run('2026-11-30T10:00:00Z', 5), run('2026-11-30T20:00:00Z', 7), run('2026-11-29T10:00:00Z', 2)]
    const now = new Date('2026-11-30T21:00:00Z')
    expect(loadedPerDay(runs, 'UTC', now, 3)).toEqual([
      { label: '2026-11-28', value: 0 },
      { label: '2026-11-29', value: 3 },
      { label: '2026-11-30', value: 14 },
    ])
    // In Tokyo it is already 1 December; the run of 29 November at 10:00 UTC falls out of a two-day window.
    expect(loadedPerDay(runs, 'Asia/Tokyo', now, 2)).toEqual([
      { label: '2026-11-30', value: 6 },
      { label: '2026-12-01', value: 8 },
    ])
    // Across the end of daylight saving time every day is there once.
    const fall = loadedPerDay([], 'America/New_York', new Date('2026-11-03T12:00:00Z'), 4).map((p) => p.label)
    expect(fall).toEqual(['2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03'])
  })

  it('measures records per second over the recent window', () => {
    expect(rate([])).toBe(0)
    expect(
      rate([
        { t: 0, n: 0 },
        { t: 2000, n: 100 },
        { t: 4000, n: 300 },
      ]),
    ).toBe(75)
    expect(
      rate(
        [
          { t: 0, n: 0 },
          { t: 20_000, n: 1000 },
          { t: 25_000, n: 1500 },
        ],
        10_000,
      ),
    ).toBe(100)
  })

  it('derives drain rates from two queue samples', () => {
    const sample = (ready: number, unacked: number) =>
      ({
        backend: 'postgresql',
        workers: [],
        queues: [{ stage: 'load', queue: 'q', ready, unacked, delayed: 0, dead: 0 }],
      }) as Schemas['QueuesOut']
    expect(drainRates(undefined, sample(1, 1), 3)).toEqual({})
    expect(drainRates(sample(100, 10), sample(40, 10), 3)).toEqual({ load: 20 })
  })

  it('gives charts a text alternative', () => {
    expect(
      describeChart(
        [
          { label: '2026-11-30', value: 3.14159 },
          { label: '2026-12-07', value: null },
        ],
        'days',
      ),
    ).toBe('2026-11-30 3.1, 2026-12-07 none (days)')
  })
})
