import { useEffect, useState } from 'react'
import { Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router-dom'
import { api, loadSession, logout, onSessionChange, type Session } from './api/client'
import { MeContext, type Me } from './lib/me'
import { applyTheme, cachedPrefs, cachePrefs, PrefsContext, prefsFrom, type Prefs } from './lib/prefs'
import { AdminPage } from './pages/Admin'
import { DataPage } from './pages/Data'
import { HomePage } from './pages/Home'
import { InsightsPage } from './pages/Insights'
import { IntegrationsPage } from './pages/Integrations'
import { JobPage } from './pages/Job'
import { JobsPage } from './pages/Jobs'
import { LoginPage } from './pages/Login'
import { PreferencesPage } from './pages/Preferences'
import { QueuesPage } from './pages/Queues'
import { RunPage } from './pages/Run'
import { SearchPage } from './pages/Search'
import { HierarchiesPage } from './pages/mappings/Hierarchies'
import { StatusMappingsPage } from './pages/mappings/Statuses'
import { TypeMappingsPage } from './pages/mappings/Types'
import { WorkflowsPage } from './pages/mappings/Workflows'

const NAV = [
  ['/', 'Home'],
  ['/integrations', 'Integrations'],
  ['/jobs', 'Jobs'],
  ['/data', 'Work items'],
  ['/mappings', 'Mappings'],
  ['/search', 'Search'],
  ['/queues', 'Queues'],
  ['/insights', 'Insights'],
  ['/preferences', 'Preferences'],
] as const

/** Where a logged-in user on /login goes: the page they first asked for, on this site only. */
function AfterLogin() {
  const next = new URLSearchParams(useLocation().search).get('next')
  return <Navigate to={next && next.startsWith('/') && !next.startsWith('//') ? next : '/'} replace />
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession)
  const [prefs, setPrefsState] = useState<Prefs>(cachedPrefs)
  const setPrefs = (p: Prefs) => {
    cachePrefs(p)
    setPrefsState(p)
  }
  const [me, setMe] = useState<Me | null>(null)
  const location = useLocation()
  const navigate = useNavigate()

  useEffect(() => onSessionChange(setSession), [])
  useEffect(() => applyTheme(prefs.theme), [prefs.theme])
  useEffect(() => {
    if (!session) return
    api
      .GET('/api/v1/me')
      .then(
        ({ data }) =>
          data && setMe({ id: data.id ?? null, email: data.email ?? null, tenant: data.tenant, role: data.role }),
      )
    api.GET('/api/v1/me/preferences').then(({ data }) => {
      if (data) setPrefs(prefsFrom(data))
    })
    // Only a new login should reload who and where the user is, not a refreshed token.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session?.refreshToken === undefined])

  if (!session) {
    if (location.pathname !== '/login') {
      const next = location.pathname + location.search
      return <Navigate to={`/login${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />
    }
    return <LoginPage />
  }

  return (
    <PrefsContext.Provider value={{ prefs, setPrefs }}>
      <MeContext.Provider value={me}>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="top">
          <span className="brand">Quarry</span>
          <nav aria-label="Main">
            <ul>
              {[...NAV, ...(me?.role === 'admin' ? ([['/admin', 'Users']] as const) : [])].map(([to, label]) => (
                <li key={to}>
                  <NavLink to={to} end={to === '/'}>
                    {label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <span className="who">
            {me && (
              <span>
                {me.email} · <strong>{me.tenant}</strong>
              </span>
            )}
            <button
              type="button"
              onClick={async () => {
                await logout()
                navigate('/login')
              }}
            >
              Log out
            </button>
          </span>
        </header>
        <main id="main" tabIndex={-1}>
          <Routes>
            <Route path="/" element={<HomePage />} />
            <Route path="/login" element={<AfterLogin />} />
            <Route path="/integrations" element={<IntegrationsPage />} />
            <Route path="/jobs" element={<JobsPage />} />
            <Route path="/jobs/:name" element={<JobPage />} />
            <Route path="/runs/:id" element={<RunPage />} />
            <Route path="/data" element={<DataPage />} />
            <Route path="/mappings" element={<Navigate to="/mappings/types" replace />} />
            <Route path="/mappings/types" element={<TypeMappingsPage />} />
            <Route path="/mappings/hierarchies" element={<HierarchiesPage />} />
            <Route path="/mappings/statuses" element={<StatusMappingsPage />} />
            <Route path="/mappings/workflows" element={<WorkflowsPage />} />
            <Route path="/search" element={<SearchPage />} />
            <Route path="/queues" element={<QueuesPage />} />
            <Route path="/insights" element={<InsightsPage />} />
            <Route path="/preferences" element={<PreferencesPage />} />
            <Route path="/admin" element={<AdminPage me={me?.id ?? null} />} />
            <Route path="*" element={<p className="state">No such page.</p>} />
          </Routes>
        </main>
      </MeContext.Provider>
    </PrefsContext.Provider>
  )
}
