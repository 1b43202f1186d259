import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { MemoryRouter, Route, Routes, useLocation } from 'react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Job, Variant } from '../api/types'
import { ViewerPage } from './ViewerPage'

const job: Job = {
  id: 'job1',
  status: 'COMPLETED',
  storage: 'AVAILABLE',
  progress: 100,
  queue_position: null,
  input_filename: 'sample.vcf.gz',
  input_size_bytes: 2048,
  build: 'GRCh38',
  tier: 'premium',
  submitted_at: '2026-01-01T00:00:00Z',
  queued_at: '2026-01-01T00:00:01Z',
  started_at: '2026-01-01T00:00:02Z',
  completed_at: '2026-01-01T00:00:05Z',
  error: null,
  summary: null,
  provenance: null,
  force_build: false,
  build_check: null,
}

const variant: Variant = {
  chrom: '17',
  pos: 43044295,
  id: 'rs80357906',
  ref: 'G',
  alt: 'A',
  qual: '50',
  filter: 'PASS',
  gene: 'BRCA1',
  region: 'CDS',
  consequence: 'stop_gained',
  clinvar: 'Pathogenic',
  cytoband: '17q21.31',
  in_dbsnp: true,
}

/** Answers the job, and the variants with `variants` (recording each query asked). */
function answer(variants: [number, unknown]) {
  const asked: string[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (path: string) => {
      const [route, query = ''] = path.split('?')
      if (route === '/api/jobs/job1') return Response.json(job)
      if (route === '/api/jobs/job1/variants') {
        asked.push(query)
        return Response.json(variants[1], { status: variants[0] })
      }
      return Response.json({ detail: 'Not Found' }, { status: 404 })
    }),
  )
  return asked
}

function Address() {
  const location = useLocation()
  return <output data-testid="address">{location.pathname + location.search}</output>
}

function show(path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/jobs/:jobId/variants" element={<ViewerPage />} />
        </Routes>
        <Address />
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

afterEach(() => vi.unstubAllGlobals())

describe('ViewerPage', () => {
  it('asks the server for the view in the address and exports with the same filters', async () => {
    const asked = answer([200, { data: [variant], count: 1 }])
    show('/jobs/job1/variants?gene=BRCA1&region=CDS')
    expect(await screen.findByText('1 variant matches these filters; rows 1–1 shown.')).toBeInTheDocument()
    expect(asked).toEqual(['gene=BRCA1&region=CDS&sort=position&limit=50&offset=0'])
    const row = screen.getAllByRole('row')[1] as HTMLElement
    expect(within(row).getByText('rs80357906')).toBeInTheDocument()
    expect(within(row).getByText('Coding (CDS)')).toBeInTheDocument()
    expect(screen.getByLabelText('Gene')).toHaveValue('BRCA1')
    expect(screen.getByLabelText('Coding (CDS)')).toBeChecked()
    expect(screen.getByRole('link', { name: 'Download the matching variants as TSV' })).toHaveAttribute(
      'href',
      '/api/jobs/job1/variants/export?gene=BRCA1&region=CDS&format=tsv',
    )
  })

  it('puts applied filters into the address, back on the first page', async () => {
    answer([200, { data: [variant], count: 120 }])
    show('/jobs/job1/variants?page=2')
    await screen.findByText(/120 variants match; rows 51–100 shown/)
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Gene'), 'tp53{Enter}')
    expect(screen.getByTestId('address')).toHaveTextContent('/jobs/job1/variants?gene=tp53')
  })

  it('filters by most severe consequence, chosen by keyboard, in the address and the exports', async () => {
    const asked = answer([200, { data: [variant], count: 1 }])
    show('/jobs/job1/variants?consequence=missense_variant')
    await screen.findByText(/1 variant matches these filters/)
    expect(asked).toEqual(['consequence=missense_variant&sort=position&limit=50&offset=0'])
    const row = screen.getAllByRole('row')[1] as HTMLElement
    expect(within(row).getByText('stop_gained')).toBeInTheDocument()
    const high = screen.getByRole('group', { name: 'High impact' })
    const moderate = screen.getByRole('group', { name: 'Moderate impact' })
    expect(within(moderate).getByLabelText('missense_variant')).toBeChecked()
    expect(within(high).getAllByRole<HTMLInputElement>('checkbox').map((box) => box.labels?.[0]?.textContent)).toEqual([
      'splice_acceptor_variant',
      'splice_donor_variant',
      'stop_gained',
      'frameshift_variant',
      'stop_lost',
      'start_lost',
    ])

    const user = userEvent.setup()
    within(high).getByLabelText('frameshift_variant').focus()
    await user.keyboard(' ')
    await user.click(screen.getByRole('button', { name: 'Apply filters' }))
    // Most severe first, whatever order they were ticked in.
    const filtered = '?consequence=frameshift_variant&consequence=missense_variant'
    expect(screen.getByTestId('address')).toHaveTextContent(`/jobs/job1/variants${filtered}`)
    await screen.findByRole('link', { name: 'Download the matching variants as VCF' })
    for (const format of ['vcf', 'tsv', 'json']) {
      const label = format.toUpperCase()
      expect(screen.getByRole('link', { name: `Download the matching variants as ${label}` })).toHaveAttribute(
        'href',
        `/api/jobs/job1/variants/export${filtered}&format=${format}`,
      )
    }

    await user.click(screen.getByRole('button', { name: 'Clear filters' }))
    expect(screen.getByTestId('address')).toHaveTextContent(/^\/jobs\/job1\/variants$/)
    expect(screen.getByLabelText('frameshift_variant')).not.toBeChecked()
    expect(screen.getByLabelText('missense_variant')).not.toBeChecked()
  })

  it('says what is wrong with a range without asking the server', async () => {
    const asked = answer([200, { data: [variant], count: 1 }])
    show('/jobs/job1/variants')
    await screen.findByText(/1 variant matches/)
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Chromosome'), '17')
    await user.type(screen.getByLabelText('From position'), '500')
    await user.type(screen.getByLabelText('To position'), '100{Enter}')
    expect(screen.getByRole('alert')).toHaveTextContent('The range starts (500) after it ends (100)')
    expect(asked).toHaveLength(1)
  })

  it("shows the server's refusal in words, not JSON", async () => {
    answer([409, { detail: 'The result is archived — upgrade to premium to restore it' }])
    show('/jobs/job1/variants')
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('The result is archived — upgrade to premium to restore it.')
    expect(alert).not.toHaveTextContent('{')
  })
})
