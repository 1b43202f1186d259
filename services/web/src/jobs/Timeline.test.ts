import { describe, expect, it } from 'vitest'
import type { Job } from '../api/types'
import { steps } from './Timeline'

const base = {
  id: 'j', storage: null, progress: 0, queue_position: null, input_filename: 'a.vcf', input_size_bytes: 1,
  build: null, tier: 'free', error: null, summary: null, provenance: null, force_build: false, build_check: null,
  submitted_at: '2026-01-01T00:00:00Z',
  queued_at: null, started_at: null, completed_at: null,
} satisfies Omit<Job, 'status'>

describe('steps', () => {
  it('marks where a running job is', () => {
    const running = steps({ ...base, status: 'RUNNING', queued_at: '2026-01-01T00:00:01Z', started_at: '2026-01-01T00:00:02Z' })
    expect(running.map((step) => step.state)).toEqual(['done', 'done', 'current', 'waiting'])
  })

  it('ends a failed job on a failed step', () => {
    const failed = steps({ ...base, status: 'FAILED', queued_at: '2026-01-01T00:00:01Z', completed_at: '2026-01-01T00:00:03Z' })
    expect(failed.map((step) => [step.label, step.state])).toEqual([
      ['Submitted', 'done'],
      ['Queued', 'done'],
      ['Running', 'waiting'],
      ['Failed', 'failed'],
    ])
  })
})
