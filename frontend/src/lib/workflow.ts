/** A workflow step as the editor holds it: the API's StepIn plus a stable key for React and drags. */
export interface DraftStep {
  key: string
  name: string
  standardStatus: 'To Do' | 'In Progress' | 'Done'
  commitmentPoint: boolean
  deliveryPoint: boolean
}

/** The steps with the one at `from` moved to `to` (both clamped to the list); the input is untouched. */
export function moveStep<T>(steps: readonly T[], from: number, to: number): T[] {
  const out = [...steps]
  if (from < 0 || from >= out.length) return out
  const target = Math.max(0, Math.min(out.length - 1, to))
  const [moved] = out.splice(from, 1)
  out.splice(target, 0, moved)
  return out
}

/** What a screen reader hears after a move: "Review moved to position 2 of 4." */
export function moveAnnouncement(name: string, position: number, count: number): string {
  return `${name || 'Step'} moved to position ${position + 1} of ${count}.`
}

/** Sets one step as the only commitment (or delivery) point, or clears it when it already is. */
export function togglePoint(
  steps: DraftStep[],
  index: number,
  point: 'commitmentPoint' | 'deliveryPoint',
): DraftStep[] {
  const on = !steps[index][point]
  return steps.map((s, i) => ({ ...s, [point]: i === index ? on : on ? false : s[point] }))
}

/**
 * The checks the API makes of a workflow (schemas/mappings.py `workflow_problems`), run before
 * sending so they show at once; the API's 422 still lands on the same places.
 */
export function workflowProblems(
  name: string,
  steps: DraftStep[],
): { name?: string; steps?: string; step: Record<number, string> } {
  const out: { name?: string; steps?: string; step: Record<number, string> } = { step: {} }
  if (!name.trim()) out.name = 'A name for the workflow.'
  if (steps.length === 0) out.steps = 'At least one step.'
  const seen = new Map<string, number>()
  steps.forEach((s, i) => {
    const key = s.name.trim().toLocaleLowerCase()
    if (!key) out.step[i] = 'A name for the step.'
    else if (seen.has(key)) out.step[i] = `"${s.name.trim()}" is step ${seen.get(key)! + 1} already.`
    else seen.set(key, i)
  })
  const commit = steps.findIndex((s) => s.commitmentPoint)
  const deliver = steps.findIndex((s) => s.deliveryPoint)
  if (commit >= 0 && deliver >= 0 && commit > deliver)
    out.steps = 'The commitment point must not come after the delivery point.'
  return out
}

let counter = 0
export function newStepKey(): string {
  counter += 1
  return `step-${counter}`
}
