import { useCallback, useEffect, useRef, useState } from 'react'
import { loadSession, onSessionChange } from '../api/client'

export interface Query<T> {
  data?: T
  error?: Error
  loading: boolean
  reload: () => void
}

/** Loads `fetcher()` when `key` changes; `reload()` refetches and keeps the old data meanwhile. */
export function useQuery<T>(fetcher: () => Promise<T>, key: unknown[] = []): Query<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  const latest = useRef(fetcher)
  latest.current = fetcher
  useEffect(() => {
    let live = true
    setState((s) => ({ ...s, loading: true }))
    latest
      .current()
      .then((data) => live && setState({ data, loading: false }))
      .catch((error: Error) => live && setState((s) => ({ data: s.data, error, loading: false })))
    return () => {
      live = false
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tick, ...key])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { ...state, reload }
}

export type LiveEvent =
  | { kind: 'subscribed'; tenant: string }
  | {
      kind: 'run'
      runId: number
      jobId: number
      phase: string
      attempt: number
      waitingReason: string | null
      hasError: boolean
    }
  | {
      kind: 'counters'
      runId: number
      entity: string
      pages: number
      extracted: number
      transformed: number
      loaded: number
      failed: number
    }

type Listener = (event: LiveEvent) => void
const listeners = new Set<Listener>()
let socket: WebSocket | null = null
let retryTimer: ReturnType<typeof setTimeout> | undefined
let idleTimer: ReturnType<typeof setTimeout> | undefined
const statusListeners = new Set<(connected: boolean) => void>()

function connect(): void {
  const token = loadSession()?.accessToken
  if (!token || socket) return
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`)
  socket = ws
  // The token goes in the first message rather than the URL, which proxies log.
  ws.onopen = () => ws.send(JSON.stringify({ token }))
  ws.onmessage = (message) => {
    let event: LiveEvent
    try {
      event = JSON.parse(message.data)
    } catch {
      return
    }
    if (event.kind === 'subscribed') statusListeners.forEach((fn) => fn(true))
    listeners.forEach((fn) => fn(event))
  }
  ws.onclose = () => {
    if (socket !== ws) return
    socket = null
    statusListeners.forEach((fn) => fn(false))
    if (listeners.size > 0) retryTimer = setTimeout(connect, 2000)
  }
}

// A socket stays with the session it was opened for.
onSessionChange((session) => {
  if (session || !socket) return
  const ws = socket
  socket = null
  ws.close()
})

/** Closes the socket once no page has listened for a while: moving between pages keeps it open. */
function release(): void {
  clearTimeout(idleTimer)
  idleTimer = setTimeout(() => {
    if (listeners.size > 0 || !socket) return
    const ws = socket
    socket = null
    clearTimeout(retryTimer)
    // Closing a socket that is still connecting is an error in the console; close it once open.
    if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close()
    else ws.close()
  }, 5000)
}

/** Calls `onEvent` for every run and counter event of the tenant, over one shared WebSocket. */
export function useLive(onEvent: Listener): boolean {
  const handler = useRef(onEvent)
  handler.current = onEvent
  const [connected, setConnected] = useState(false)
  useEffect(() => {
    const listener: Listener = (e) => handler.current(e)
    clearTimeout(idleTimer)
    listeners.add(listener)
    statusListeners.add(setConnected)
    if (socket?.readyState === WebSocket.OPEN) setConnected(true)
    connect()
    return () => {
      listeners.delete(listener)
      statusListeners.delete(setConnected)
      if (listeners.size === 0) release()
    }
  }, [])
  return connected
}

/** Calls `fn` every `ms` while the page is shown (a fallback beside the live events). */
export function useInterval(fn: () => void, ms: number): void {
  const saved = useRef(fn)
  saved.current = fn
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') saved.current()
    }, ms)
    return () => clearInterval(id)
  }, [ms])
}
