import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { render, screen } from '@testing-library/react'
import { MemoryRouter, Route, Routes } from 'react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Job, User } from '../api/types'
import { JobPage } from './JobPage'

const user: User = {
  id: 'u1',
  email: 'free@example.org',
  name: 'Frida',
  tier: 'free',
  created_at: '2026-01-01T00:00:00Z',
  upgraded_at: null,
}

const completed: Job = {
  id: 'job1',
  status: 'COMPLETED',
  storage: 'AVAILABLE',
  progress: 100,
  queue_position: null,
  input_filename: 'sample.vcf.gz',
  input_size_bytes: 2048,
  build: 'GRCh37',
  tier: 'free',
  submitted_at: '2026-01-01T00:00:00Z',
  queued_at: '2026-01-01T00:00:01Z',
  started_at: '2026-01-01T00:00:02Z',
  completed_at: '2026-01-01T00:00:05Z',
  error: null,
  summary: null,
  provenance: null,
}

function answer(routes: Record<string, [number, unknown]>) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (path: string) => {
      const [status, body] = routes[path.split('?')[0] ?? ''] ?? [404, { detail: 'No such job.' }]
      return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
        status,
        headers: { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' },
      })
    }),
  )
}

function show(path: string, who: User = user) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/jobs/:jobId" element={<JobPage user={who} />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

afterEach(() => vi.unstubAllGlobals())

describe('JobPage', () => {
  it('offers the upgrade for an archived result of a free user', async () => {
    answer({
      '/api/jobs/job1': [200, { ...completed, storage: 'ARCHIVED' }],
      '/api/jobs/job1/log': [200, 'annotated 10 variants'],
      '/api/config': [200, { free_size_limit_bytes: 153600, free_window_seconds: 600 }],
    })
    show('/jobs/job1')
    expect(await screen.findByRole('heading', { name: 'The result is archived' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Upgrade to premium' })).toHaveAttribute('href', '/account#upgrade')
    expect(screen.queryByRole('button', { name: /Download/ })).not.toBeInTheDocument()
  })

  it('says a restoring result is on its way back', async () => {
    answer({
      '/api/jobs/job1': [200, { ...completed, storage: 'RESTORING', restore_tier: 'Standard', tier: 'premium' }],
      '/api/jobs/job1/log': [200, ''],
      '/api/config': [200, { free_size_limit_bytes: 153600, free_window_seconds: 600 }],
    })
    show('/jobs/job1', { ...user, tier: 'premium' })
    expect(await screen.findByRole('heading', { name: 'Restoring the result from cold storage' })).toBeInTheDocument()
    expect(screen.getByText(/download appears here when the result is back/)).toBeInTheDocument()
    expect(screen.getByText(/Standard retrieval: usually 3–5 hours/)).toBeInTheDocument()
  })

  it('shows a failed job with its reason and what to do', async () => {
    answer({
      '/api/jobs/job1': [200, { ...completed, status: 'FAILED', storage: null, error: 'Line 3: POS must be a number.' }],
      '/api/jobs/job1/log': [200, 'The job failed before it ran'],
      '/api/config': [200, { free_size_limit_bytes: 153600, free_window_seconds: 600 }],
    })
    show('/jobs/job1')
    expect(await screen.findByText('Line 3: POS must be a number.')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'submit it again' })).toHaveAttribute('href', '/submit')
  })

  it('explains a missing job in words, not JSON', async () => {
    answer({ '/api/config': [200, { free_size_limit_bytes: 153600, free_window_seconds: 600 }] })
    show('/jobs/nope')
    expect(await screen.findByRole('heading', { name: 'No such job' })).toBeInTheDocument()
    expect(screen.getByRole('alert')).toHaveTextContent('No such job.')
    expect(screen.getByRole('alert')).not.toHaveTextContent('{')
  })
})
