import { lazy, Suspense, type ReactNode } from 'react'
import { Link, Navigate, NavLink, Route, Routes, useLocation } from 'react-router'
import { useMe } from './api/hooks'
import { ApiError } from './api/client'
import type { User } from './api/types'
import { ErrorMessage, Loading, usePageTitle } from './common/Feedback'
import { TierBadge } from './account/TierBadge'
import { AccountPage } from './account/AccountPage'
import { SignedOut } from './home/SignedOut'
import { JobsPage } from './jobs/JobsPage'
import { JobPage } from './jobs/JobPage'
import { SubmitPage } from './submit/SubmitPage'

// The viewer is the largest page and not the first one anybody sees: loaded when opened.
const ViewerPage = lazy(() => import('./viewer/ViewerPage').then((module) => ({ default: module.ViewerPage })))

export function App() {
  const me = useMe()
  const user = me.data
  const signedOut = me.error instanceof ApiError && me.error.signedOut
  return (
    <>
      <a className="visually-hidden-focusable" href="#main">
        Skip to content
      </a>
      <header className="navbar navbar-expand border-bottom bg-body-tertiary mb-4">
        <div className="container">
          <Link className="navbar-brand fw-semibold" to={user ? '/jobs' : '/'}>
            GAS <span className="fw-normal text-body-secondary d-none d-md-inline">Genomics Annotation Service</span>
          </Link>
          {user && (
            <nav aria-label="Main" className="d-flex align-items-center gap-3">
              <ul className="navbar-nav gap-1">
                <NavItem to="/submit">Annotate a VCF</NavItem>
                <NavItem to="/jobs">Jobs</NavItem>
                <NavItem to="/account">Account</NavItem>
              </ul>
              <span className="small text-body-secondary d-none d-lg-inline">
                {user.email} <TierBadge tier={user.tier} />
              </span>
            </nav>
          )}
        </div>
      </header>
      <main id="main" className="container pb-5">
        {me.isPending ? (
          <Loading what="your account" />
        ) : signedOut ? (
          <SignedOutRoutes />
        ) : user ? (
          <SignedInRoutes user={user} />
        ) : (
          <ErrorMessage error={me.error} action={<p className="mb-0">Reload the page to try again.</p>} />
        )}
      </main>
    </>
  )
}

function NavItem({ to, children }: { to: string; children: ReactNode }) {
  return (
    <li className="nav-item">
      <NavLink className="nav-link" to={to} end={to !== '/jobs'}>
        {children}
      </NavLink>
    </li>
  )
}

function SignedInRoutes({ user }: { user: User }) {
  return (
    <Routes>
      <Route path="/" element={<Navigate to="/jobs" replace />} />
      <Route path="/submit" element={<SubmitPage user={user} />} />
      <Route path="/jobs" element={<JobsPage user={user} />} />
      <Route path="/jobs/:jobId" element={<JobPage user={user} />} />
      <Route
        path="/jobs/:jobId/variants"
        element={
          <Suspense fallback={<Loading what="the results viewer" />}>
            <ViewerPage />
          </Suspense>
        }
      />
      <Route path="/account" element={<AccountPage user={user} />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  )
}

function SignedOutRoutes() {
  const { pathname } = useLocation()
  return <SignedOut next={pathname === '/' ? '/jobs' : pathname} askedForPage={pathname !== '/'} />
}

function NotFound() {
  usePageTitle('Page not found')
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is no page at this address. Go to <Link to="/jobs">your jobs</Link> or{' '}
        <Link to="/submit">annotate a VCF</Link>.
      </p>
    </>
  )
}
