import { describe, expect, it } from 'vitest'
import { FAST_POLL_MS, nextLook, nextLookAny, SLOW_POLL_MS } from './live'
import type { Job } from './types'

function job(overrides: Partial<Job>): Job {
  return {
    id: 'j',
    status: 'COMPLETED',
    storage: 'AVAILABLE',
    progress: 100,
    queue_position: null,
    input_filename: 'in.vcf',
    input_size_bytes: 10,
    build: 'GRCh37',
    tier: 'premium',
    submitted_at: '2026-01-01T00:00:00Z',
    queued_at: null,
    started_at: null,
    completed_at: null,
    error: null,
    summary: null,
    provenance: null,
    force_build: false,
    build_check: null,
    ...overrides,
  }
}

describe('nextLook', () => {
  it('polls fast while a job moves, slowly while its storage changes, not at all when settled', () => {
    expect(nextLook(job({ status: 'RUNNING', storage: null }))).toBe(FAST_POLL_MS)
    expect(nextLook(job({ status: 'QUEUED', storage: null }))).toBe(FAST_POLL_MS)
    expect(nextLook(job({ storage: 'RESTORING' }))).toBe(SLOW_POLL_MS)
    expect(nextLook(job({ tier: 'free' }))).toBe(SLOW_POLL_MS)
    expect(nextLook(job({}))).toBe(false)
    expect(nextLook(job({ status: 'FAILED', storage: null }))).toBe(false)
    expect(nextLookAny([job({}), job({ status: 'RUNNING' })])).toBe(FAST_POLL_MS)
    expect(nextLookAny([])).toBe(false)
  })
})
