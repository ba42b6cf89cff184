import { cleanup, fireEvent, render, screen } from '@testing-library/react'
import { useState, type ReactNode } from 'react'
import { MemoryRouter } from 'react-router-dom'
import { afterEach, describe, expect, it } from 'vitest'
import type { Schemas } from '../src/api/client'
import { RowActions, useMappingEdits } from '../src/components/MappingFrame'
import { byType, defaultReason } from '../src/lib/mappings'
import { MeContext } from '../src/lib/me'
import { moveAnnouncement, moveStep, togglePoint, workflowProblems, type DraftStep } from '../src/lib/workflow'
import { validateUser } from '../src/pages/Admin'
import { choices } from '../src/pages/Insights'
import { IntegrationActions, notReadyReason } from '../src/pages/Integrations'
import { JobActions, type Action } from '../src/pages/Job'
import { validateHierarchy } from '../src/pages/mappings/Hierarchies'
import { StatusOutcome, validateStatusMapping } from '../src/pages/mappings/Statuses'
import { validateTypeMapping } from '../src/pages/mappings/Types'
import { StepList } from '../src/pages/mappings/Workflows'
import { progressText } from '../src/pages/Search'

afterEach(cleanup)

const step = (name: string, over: Partial<DraftStep> = {}): DraftStep => ({
  key: name,
  name,
  standardStatus: 'In Progress',
  commitmentPoint: false,
  deliveryPoint: false,
  ...over,
})

describe('workflow reordering', () => {
  it('moves a step, clamps the target, and leaves the input alone', () => {
    const steps = ['a', 'b', 'c', 'd']
    expect(moveStep(steps, 3, 1)).toEqual(['a', 'd', 'b', 'c'])
    expect(moveStep(steps, 0, 2)).toEqual(['b', 'c', 'a', 'd'])
    expect(moveStep(steps, 1, -5)).toEqual(['b', 'a', 'c', 'd'])
    expect(moveStep(steps, 1, 99)).toEqual(['a', 'c', 'd', 'b'])
    expect(moveStep(steps, 7, 0)).toEqual(steps)
    expect(steps).toEqual(['a', 'b', 'c', 'd'])
    expect(moveAnnouncement('Review', 1, 4)).toBe('Review moved to position 2 of 4.')
    expect(moveAnnouncement('', 0, 1)).toBe('Step moved to position 1 of 1.')
  })

  it('keeps one commitment point and one delivery point at most', () => {
    let steps = [step('a'), step('b'), step('c')]
    steps = togglePoint(steps, 0, 'commitmentPoint')
    steps = togglePoint(steps, 1, 'commitmentPoint')
    expect(steps.map((s) => s.commitmentPoint)).toEqual([false, true, false])
    steps = togglePoint(steps, 1, 'commitmentPoint')
    expect(steps.map((s) => s.commitmentPoint)).toEqual([false, false, false])
    steps = togglePoint(steps, 2, 'deliveryPoint')
    expect(steps.map((s) => s.deliveryPoint)).toEqual([false, false, true])
  })

  it('finds what the API would refuse, on the step it concerns', () => {
    expect(workflowProblems('delivery', [step('Backlog'), step('Done')])).toEqual({ step: {} })
    const dup = workflowProblems(' ', [step('Review'), step(''), step('review ')])
    expect(dup.name).toBe('A name for the workflow.')
    expect(dup.step).toEqual({ 1: 'A name for the step.', 2: '"review" is step 1 already.' })
    const late = workflowProblems('x', [step('a', { deliveryPoint: true }), step('b', { commitmentPoint: true })])
    expect(late.steps).toBe('The commitment point must not come after the delivery point.')
    expect(workflowProblems('x', []).steps).toBe('At least one step.')
  })
})

function Steps({ initial }: { initial: DraftStep[] }) {
  const [steps, setSteps] = useState(initial)
  return <StepList steps={steps} onChange={setSteps} errors={{ 'steps.2.name': 'too long' }} />
}

const names = () => screen.getAllByRole('textbox').map((i) => (i as HTMLInputElement).value)

describe('StepList', () => {
  it('reorders by buttons, by Alt+arrow keys and by dragging, and says so', () => {
    render(<Steps initial={[step('Backlog'), step('Doing'), step('Review')]} />)
    fireEvent.click(screen.getByRole('button', { name: 'Move Review up' }))
    expect(names()).toEqual(['Backlog', 'Review', 'Doing'])
    expect(screen.getByText('Review moved to position 2 of 3.')).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Move Backlog up' }).hasAttribute('disabled')).toBe(true)

    fireEvent.keyDown(screen.getByLabelText('Name of step 1'), { key: 'ArrowDown', altKey: true })
    expect(names()).toEqual(['Review', 'Backlog', 'Doing'])
    fireEvent.keyDown(screen.getByLabelText('Name of step 1'), { key: 'ArrowDown' })
    expect(names()).toEqual(['Review', 'Backlog', 'Doing'])

    const items = screen.getAllByRole('listitem')
    const handle = items[2].querySelector('.handle')!
    fireEvent.dragStart(handle, { dataTransfer: { setData: () => undefined, effectAllowed: 'all' } })
    fireEvent.dragOver(items[0])
    fireEvent.drop(items[0])
    expect(names()).toEqual(['Doing', 'Review', 'Backlog'])
    expect(screen.getByText('Doing moved to position 1 of 3.')).toBeTruthy()
  })

  it("shows the API's error on the step it names, and adds and removes steps", () => {
    render(<Steps initial={[step('a'), step('b'), step('c')]} />)
    const third = screen.getByLabelText('Name of step 3')
    expect(third.getAttribute('aria-invalid')).toBe('true')
    fireEvent.click(screen.getByRole('button', { name: 'Add a step' }))
    expect(names()).toEqual(['a', 'b', 'c', ''])
    fireEvent.click(screen.getByRole('button', { name: 'Remove b' }))
    expect(names()).toEqual(['a', 'c', ''])
  })
})

type StatusRow = Schemas['StatusMappingOut']
const row = (over: Partial<StatusRow>): StatusRow => ({
  id: null,
  workItemType: 'STORY',
  sourceStatus: 'In Review',
  standardStatus: 'In Progress',
  workflowStep: 'In Review',
  statusCategory: 'indeterminate',
  mapped: false,
  rule: 'category',
  items: 3,
  ...over,
})

describe('status defaults', () => {
  it('says which rule chose the default', () => {
    expect(defaultReason(row({}))).toBe('its category "indeterminate"')
    expect(defaultReason(row({ statusCategory: null }))).toBe('no category: To Do')
    expect(defaultReason(row({ rule: 'workflow', workflowStep: 'Review' }))).toBe('the workflow step "Review"')
  })

  it('marks a default as such, and a mapping as plain', () => {
    const { container, rerender } = render(<StatusOutcome row={row({})} />)
    expect(container.textContent).toBe('In Progress defaultfrom its category "indeterminate"')
    rerender(<StatusOutcome row={row({ mapped: true, rule: 'mapping', standardStatus: 'Done' })} />)
    expect(container.textContent).toBe('Done')
  })

  it("groups rows by type, '*' first", () => {
    const groups = byType([row({ workItemType: 'STORY' }), row({ workItemType: '*' }), row({ workItemType: 'BUG' })])
    expect(groups.map(([t, rows]) => [t, rows.length])).toEqual([
      ['*', 1],
      ['BUG', 1],
      ['STORY', 1],
    ])
  })
})

describe('mapping forms check before sending', () => {
  it('types, levels and statuses', () => {
    expect(validateTypeMapping({ sourceType: '', standardType: 'x'.repeat(65) })).toEqual({
      sourceType: "The source's type name.",
      standardType: 'At most 64 characters.',
    })
    expect(validateTypeMapping({ sourceType: 'Story', standardType: 'STORY' })).toEqual({})
    expect(validateHierarchy({ standardType: 'EPIC', level: '11' })).toEqual({
      level: 'A whole number from -10 to 10.',
    })
    expect(validateHierarchy({ standardType: 'SUBTASK', level: '-1' })).toEqual({})
    expect(
      validateStatusMapping({ workItemType: '', sourceStatus: '', standardStatus: 'Done', workflowStep: '' }),
    ).toEqual({
      workItemType: 'A standard type, or * for every type.',
      sourceStatus: 'The status as the source names it.',
    })
  })
})

describe('search and insights helpers', () => {
  it('describes embedding progress', () => {
    expect(progressText({ pending: 0, embedded: 0 })).toBe('nothing loaded yet')
    expect(progressText({ pending: 28, embedded: 1200 })).toBe('1,200 of 1,228 embedded (28 waiting)')
    expect(progressText({ pending: 0, embedded: 40 })).toBe('40 of 40 embedded')
  })

  it('offers every value seen and keeps the chosen one', () => {
    expect(choices(['OPS', 'ENG'], '')).toEqual(['ENG', 'OPS'])
    expect(choices(undefined, 'ENG')).toEqual(['ENG'])
    expect(choices(['ENG'], 'ENG')).toEqual(['ENG'])
  })
})

describe('users', () => {
  it('checks the email and the password length before sending', () => {
    expect(validateUser({ email: 'dev', password: 'short' })).toEqual({
      email: 'An email address.',
      password: 'At least 12 characters.',
    })
    expect(validateUser({ email: 'dev@acme.io', password: 'correct horse battery' })).toEqual({})
  })
})

describe('a viewer sees mappings but no controls to change them', () => {
  function Row({ role }: { role: string }) {
    const edits = useMappingEdits<string>(() => undefined)
    return (
      <MeContext.Provider value={{ id: 1, email: 'a@b.c', tenant: 't', role }}>
        <table>
          <tbody>
            <tr>
              <RowActions
                edits={edits}
                row="x"
                name="type Story"
                mapped
                removal={{ question: '?', call: async () => ({ affectedJobs: [] }) }}
              />
            </tr>
          </tbody>
        </table>
      </MeContext.Provider>
    )
  }

  it('shows Edit and Remove to an editor, nothing to a viewer', () => {
    const { rerender } = render(<Row role="editor" />)
    expect(screen.getByRole('button', { name: 'Edit type Story' })).toBeTruthy()
    expect(screen.getByRole('button', { name: 'Remove the mapping of type Story' })).toBeTruthy()
    rerender(<Row role="viewer" />)
    expect(screen.queryAllByRole('button')).toEqual([])
  })
})

describe('a viewer sees integrations and jobs but no controls to change them', () => {
  const as = (role: string, children: ReactNode) => (
    <MemoryRouter>
      <MeContext.Provider value={{ id: 1, email: 'a@b.c', tenant: 't', role }}>{children}</MeContext.Provider>
    </MemoryRouter>
  )

  it('job actions: start, pause, stop and re-transform for an editor; only the work items link for a viewer', () => {
    const asked: Action[] = []
    const actions = <JobActions suspended={false} onAction={(a) => asked.push(a)} />
    const { rerender } = render(as('editor', actions))
    for (const name of ['Start run', 'Pause', 'Stop', 'Re-transform'])
      fireEvent.click(screen.getByRole('button', { name }))
    expect(asked).toEqual(['run', 'pause', 'stop', 'retransform'])
    rerender(as('editor', <JobActions suspended onAction={() => undefined} />))
    expect(screen.getByRole('button', { name: 'Resume' })).toBeTruthy()
    rerender(as('viewer', actions))
    expect(screen.queryAllByRole('button')).toEqual([])
    expect(screen.getByRole('link', { name: 'Work items' })).toBeTruthy()
    expect(screen.getByText(/needs the editor role/)).toBeTruthy()
  })

  it("integration actions (with the last test's outcome) for an editor, none for a viewer", () => {
    const check: Schemas['CheckOut'] = { ready: false, reason: 'Unauthorized', message: 'token refused' }
    const nothing = () => undefined
    const actions = (
      <IntegrationActions name="acme" check={check} onTest={nothing} onEdit={nothing} onDelete={nothing} />
    )
    const { rerender } = render(as('editor', actions))
    expect(screen.getByRole('status').textContent).toBe('Failed: Unauthorized — token refused')
    for (const name of ['Test connection of acme', 'Edit acme', 'Delete acme'])
      expect(screen.getByRole('button', { name })).toBeTruthy()
    rerender(as('viewer', actions))
    expect(screen.queryAllByRole('button')).toEqual([])
    expect(screen.queryByRole('status')).toBeNull()
  })
})

describe('integration phase', () => {
  it('says why an integration is not ready, and nothing when it is', () => {
    const ok = { type: 'Ready', status: 'True', reason: 'Verified', message: 'authenticated' }
    const bad = { type: 'Ready', status: 'False', reason: 'Unauthorized', message: 'the token was refused' }
    expect(notReadyReason([ok])).toBe('')
    expect(notReadyReason([])).toBe('')
    expect(notReadyReason([ok, bad])).toBe('Unauthorized: the token was refused')
    expect(notReadyReason([{ ...bad, message: '' }])).toBe('Unauthorized')
  })
})
