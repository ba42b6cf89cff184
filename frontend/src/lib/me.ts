import { createContext, useContext } from 'react'

export interface Me {
  id: number | null
  email: string | null
  tenant: string
  role: string
}

export const MeContext = createContext<Me | null>(null)

/** Whether the caller may change things (editor or admin); unknown until /me answers, so true then. */
export function useCanEdit(): boolean {
  const me = useContext(MeContext)
  return me?.role !== 'viewer'
}
