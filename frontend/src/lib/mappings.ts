import type { Schemas } from '../api/client'

type StatusRow = Schemas['StatusMappingOut']

/** Why an unmapped status gets the standard status it gets, in words. */
export function defaultReason(row: Pick<StatusRow, 'rule' | 'statusCategory' | 'workflowStep'>): string {
  if (row.rule === 'workflow') return `the workflow step "${row.workflowStep}"`
  if (row.rule === 'category') return row.statusCategory ? `its category "${row.statusCategory}"` : 'no category: To Do'
  return 'a mapping'
}

/** The rows grouped by work item type: '*' (any type) first, then the types in order. */
export function byType<T extends { workItemType: string }>(rows: T[]): [string, T[]][] {
  const groups = new Map<string, T[]>()
  for (const row of rows) {
    const list = groups.get(row.workItemType) ?? []
    list.push(row)
    groups.set(row.workItemType, list)
  }
  return [...groups.entries()].sort(([a], [b]) => (a === '*' ? -1 : b === '*' ? 1 : a.localeCompare(b)))
}

export const STANDARD_STATUSES = ['To Do', 'In Progress', 'Done'] as const
export type StandardStatus = (typeof STANDARD_STATUSES)[number]
