// The screens every page shares: loading, an error with what to do, a page title.
import { useEffect, useState, type ReactNode } from 'react'
import { ApiError } from '../api/client'

export function Loading({ what }: { what: string }) {
  return (
    <div className="d-flex align-items-center gap-2 text-body-secondary my-4" role="status">
      <span className="spinner-border spinner-border-sm" aria-hidden="true" />
      <span>Loading {what}…</span>
    </div>
  )
}

export function ErrorMessage({ error, action }: { error: unknown; action?: ReactNode }) {
  const message = error instanceof Error ? error.message : 'Something went wrong. Reload the page and try again.'
  const signedOut = error instanceof ApiError && error.signedOut
  return (
    <div className="alert alert-danger" role="alert">
      <p className="mb-1">{message}</p>
      {signedOut ? (
        <a className="alert-link" href={signInHref()}>
          Sign in again
        </a>
      ) : (
        action
      )}
    </div>
  )
}

export function signInHref(next: string = window.location.pathname + window.location.search): string {
  const target = next === '/' ? '/jobs' : next
  return `/auth/login?next=${encodeURIComponent(target)}`
}

export function usePageTitle(title: string) {
  useEffect(() => {
    document.title = `${title} — GAS`
  }, [title])
}

/** The time now, renewed every `everyMs`, for countdowns on a page. */
export function useNow(everyMs = 15_000): Date {
  const [now, setNow] = useState(() => new Date())
  useEffect(() => {
    const timer = window.setInterval(() => setNow(new Date()), everyMs)
    return () => window.clearInterval(timer)
  }, [everyMs])
  return now
}
