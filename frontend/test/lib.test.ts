import { describe, expect, it } from 'vitest'
import { nextRuns } from '../src/lib/cron'
import { apiFailure, errorFor, splitList } from '../src/lib/forms'
import { dayOf, formatDuration, formatTime, plural } from '../src/lib/format'
import { browserZone, prefsFrom } from '../src/lib/prefs'
import { ApiError } from '../src/api/client'
import { isBusy } from '../src/pages/Search'

const iso = (dates: Date[]) => dates.map((d) => d.toISOString())

describe('nextRuns', () => {
  const from = new Date('2026-11-30T14:07:30Z')
  it('steps through minutes', () => {
    expect(iso(nextRuns('*/15 * * * *', from, 3))).toEqual([
      '2026-11-30T14:15:00.000Z',
      '2026-11-30T14:30:00.000Z',
      '2026-11-30T14:45:00.000Z',
    ])
  })
  it('rolls over days, months and years', () => {
    expect(iso(nextRuns('0 3 1 1 *', from, 2))).toEqual(['2027-01-01T03:00:00.000Z', '2028-01-01T03:00:00.000Z'])
  })
  it('matches day of month OR weekday when both are restricted, as cron does', () => {
    // 2026-12-01 is a Tuesday; the 15th is also a Tuesday.
    expect(iso(nextRuns('0 0 15 * 2', from, 3))).toEqual([
      '2026-12-01T00:00:00.000Z',
      '2026-12-08T00:00:00.000Z',
      '2026-12-15T00:00:00.000Z',
    ])
  })
  it('takes lists, ranges, Sunday as 7 and shortcuts', () => {
    expect(iso(nextRuns('30 9-10 * * 7', from, 2))).toEqual(['2026-12-06T09:30:00.000Z', '2026-12-06T10:30:00.000Z'])
    expect(iso(nextRuns('@hourly', from, 1))).toEqual(['2026-11-30T15:00:00.000Z'])
    expect(iso(nextRuns('5,10 14 * * *', from, 2))).toEqual(['2026-11-30T14:10:00.000Z', '2026-12-01T14:05:00.000Z'])
  })
  it('rejects what it cannot read', () => {
    expect(() => nextRuns('* * *', from)).toThrow(/five fields/)
    expect(() => nextRuns('61 * * * *', from)).toThrow(/outside 0-59/)
    expect(() => nextRuns('*/0 * * * *', from)).toThrow(/bad step/)
    expect(() => nextRuns('0 0 31 2 *', from)).not.toThrow()
    expect(nextRuns('0 0 31 2 *', from)).toEqual([])
  })
})

describe('format', () => {
  it('shows times in the given zone', () => {
    expect(formatTime('2026-11-30T23:30:00Z', 'UTC')).toBe('2026-11-30 23:30:00')
    expect(formatTime('2026-11-30T23:30:00Z', 'Asia/Tokyo')).toBe('2026-12-01 08:30:00')
    expect(formatTime('2026-07-01T00:00:00Z', 'America/New_York')).toBe('2026-06-30 20:00:00')
    expect(formatTime(null, 'UTC')).toBe('—')
    expect(dayOf('2026-11-30T23:30:00Z', 'Asia/Tokyo')).toBe('2026-12-01')
  })
  it('shows durations at a readable grain', () => {
    expect(formatDuration(2.34)).toBe('2.3 s')
    expect(formatDuration(125)).toBe('2 min 5 s')
    expect(formatDuration(3 * 3600 + 60)).toBe('3 h 1 min')
    expect(formatDuration(5 * 86400)).toBe('5.0 d')
    expect(formatDuration(null)).toBe('—')
  })
})

describe('forms', () => {
  it('finds an error of a field or of its parts', () => {
    const fields = { 'scope.projects.1': 'bad key', name: 'taken' }
    expect(errorFor(fields, 'scope.projects')).toBe('bad key')
    expect(errorFor(fields, 'scope')).toBe('bad key')
    expect(errorFor(fields, 'name')).toBe('taken')
    expect(errorFor(fields, 'baseUrl')).toBeUndefined()
  })
  it("puts a 409 on the form's name field, a 422 on the fields it names", () => {
    const taken = new ApiError(409, { detail: 'job acme-sync exists already' })
    expect(apiFailure(taken, 'name')).toEqual({
      fields: { name: 'job acme-sync exists already' },
      message: 'job acme-sync exists already',
    })
    expect(apiFailure(taken).fields).toEqual({})
    const invalid = new ApiError(422, { detail: [{ loc: ['body', 'schedule'], msg: 'Value error, bad cron' }] })
    expect(apiFailure(invalid, 'name').fields).toEqual({ schedule: 'bad cron' })
    expect(apiFailure(new Error('offline'))).toEqual({ fields: {}, message: 'Error: offline' })
  })
  it('splits lists on commas and spaces', () => {
    expect(splitList(' ENG, OPS  QA,,')).toEqual(['ENG', 'OPS', 'QA'])
  })
})

describe('preferences and small words', () => {
  it("a time zone never chosen is the browser's, a chosen one is kept", () => {
    expect(prefsFrom({})).toEqual({ theme: 'system', timeZone: browserZone, defaultTenant: null })
    expect(prefsFrom({ theme: 'dark', timeZone: 'Asia/Tokyo', defaultTenant: 'acme' })).toEqual({
      theme: 'dark',
      timeZone: 'Asia/Tokyo',
      defaultTenant: 'acme',
    })
    expect(plural(1, 'page')).toBe('1 page')
    expect(plural(0, 'page')).toBe('0 pages')
    expect(plural(1200, 'page')).toBe('1,200 pages')
  })

  it('tells a busy vector store (ask again soon) from other failures', () => {
    const busy = 'the vector store is busy embedding new rows; try again in a moment'
    expect(isBusy(new ApiError(503, { detail: busy }))).toBe(true)
    expect(isBusy(new ApiError(503, { detail: 'vector search is off (QUARRY_EMBEDDER=off)' }))).toBe(false)
    expect(isBusy(new ApiError(500, { detail: busy }))).toBe(false)
    expect(isBusy(new Error(busy))).toBe(false)
    expect(isBusy(undefined)).toBe(false)
  })
})
