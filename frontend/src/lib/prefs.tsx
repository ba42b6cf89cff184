import { createContext, useContext } from 'react'

export interface Prefs {
  theme: 'light' | 'dark' | 'system'
  timeZone: string
  defaultTenant: string | null
}

export const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
export const DEFAULT_PREFS: Prefs = { theme: 'system', timeZone: browserZone, defaultTenant: null }

/** Preferences as the API stores them; a zone never chosen is the browser's own. */
export function prefsFrom(stored: {
  theme?: Prefs['theme'] | null
  timeZone?: string | null
  defaultTenant?: string | null
}): Prefs {
  return {
    theme: stored.theme ?? 'system',
    timeZone: stored.timeZone ?? browserZone,
    defaultTenant: stored.defaultTenant ?? null,
  }
}

export const PrefsContext = createContext<{ prefs: Prefs; setPrefs: (p: Prefs) => void }>({
  prefs: DEFAULT_PREFS,
  setPrefs: () => undefined,
})

export function usePrefs() {
  return useContext(PrefsContext)
}

export function useTimeZone(): string {
  return useContext(PrefsContext).prefs.timeZone
}

export function applyTheme(theme: Prefs['theme']): void {
  const dark = theme === 'dark' || (theme === 'system' && matchMedia?.('(prefers-color-scheme: dark)').matches)
  document.documentElement.dataset.theme = dark ? 'dark' : 'light'
}

const KEY = 'quarry.prefs'

/** The last preferences seen, so a reload shows the chosen theme before the API answers. */
export function cachedPrefs(): Prefs {
  try {
    return { ...DEFAULT_PREFS, ...JSON.parse(localStorage.getItem(KEY) ?? '{}') }
  } catch {
    return DEFAULT_PREFS
  }
}

export function cachePrefs(prefs: Prefs): void {
  localStorage.setItem(KEY, JSON.stringify(prefs))
}
