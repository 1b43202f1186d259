import { describe, expect, it } from 'vitest'
import { FAST_POLL_MS, followJob, MAX_STREAM_FAILURES, nextLook, nextLookAny, SLOW_POLL_MS, type StreamState } from './live'
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
    ...overrides,
  }
}

describe('nextLook', () => {
  it('polls fast while a job moves, slowly while its storage changes, not at all when settled', () => {
    expect(nextLook(job({ status: 'RUNNING', storage: null }))).toBe(FAST_POLL_MS)
    expect(nextLook(job({ status: 'QUEUED', storage: null }))).toBe(FAST_POLL_MS)
    expect(nextLook(job({ storage: 'RESTORING' }))).toBe(SLOW_POLL_MS)
    expect(nextLook(job({ storage: 'ARCHIVED' }))).toBe(SLOW_POLL_MS)
    expect(nextLook(job({ tier: 'free' }))).toBe(SLOW_POLL_MS)
    expect(nextLook(job({}))).toBe(false)
    expect(nextLook(job({ status: 'FAILED', storage: null }))).toBe(false)
    expect(nextLookAny([job({}), job({ status: 'RUNNING' })])).toBe(FAST_POLL_MS)
    expect(nextLookAny([])).toBe(false)
  })
})

/** An EventSource the test drives: open, send a job, fail. */
class FakeSource {
  static last: FakeSource
  readyState = 0
  closed = false
  onopen: (() => void) | null = null
  onerror: (() => void) | null = null
  private listeners: ((event: MessageEvent<string>) => void)[] = []
  constructor(readonly url: string) {
    FakeSource.last = this
  }
  addEventListener(_type: string, listener: (event: MessageEvent<string>) => void) {
    this.listeners.push(listener)
  }
  close() {
    this.closed = true
    this.readyState = 2
  }
  open() {
    this.readyState = 1
    this.onopen?.()
  }
  send(body: Partial<Job>) {
    for (const listener of this.listeners) listener(new MessageEvent('job', { data: JSON.stringify(job(body)) }))
  }
  fail(closed = false) {
    this.readyState = closed ? 2 : 0
    this.onerror?.()
  }
}

function follow() {
  const jobs: Job[] = []
  const states: StreamState[] = []
  const stop = followJob('j1', { onJob: (j) => jobs.push(j), onState: (s) => states.push(s) }, FakeSource as never)
  return { jobs, states, stop, source: FakeSource.last }
}

describe('followJob', () => {
  it('passes each job on while it moves and closes the stream once it has finished', () => {
    const { jobs, states, source } = follow()
    expect(source.url).toBe('/api/jobs/j1/events')
    source.open()
    source.send({ status: 'QUEUED', queue_position: 2, storage: null })
    source.send({ status: 'RUNNING', progress: 40, storage: null })
    expect(source.closed).toBe(false)
    source.send({ status: 'COMPLETED' })
    expect(jobs.map((j) => j.status)).toEqual(['QUEUED', 'RUNNING', 'COMPLETED'])
    expect(jobs[0]?.queue_position).toBe(2)
    expect(source.closed).toBe(true)
    expect(states).toEqual(['connecting', 'live', 'ended'])
  })

  it('falls back to polling when the stream keeps failing, or is refused', () => {
    const flaky = follow()
    flaky.source.open()
    for (let i = 0; i < MAX_STREAM_FAILURES - 1; i++) flaky.source.fail()
    expect(flaky.states.at(-1)).toBe('connecting')
    expect(flaky.source.closed).toBe(false)
    flaky.source.fail()
    expect(flaky.states.at(-1)).toBe('polling')
    expect(flaky.source.closed).toBe(true)

    const refused = follow()
    refused.source.fail(true)
    expect(refused.states).toEqual(['connecting', 'polling'])
  })

  it('polls where the browser has no EventSource', () => {
    const states: StreamState[] = []
    followJob('j1', { onJob: () => {}, onState: (s) => states.push(s) }, undefined)
    expect(states).toEqual(['polling'])
  })

  it('does not poll a job its stream is following, but still the others', () => {
    const running = job({ id: 'a', status: 'RUNNING', storage: null })
    const archiving = job({ id: 'b', storage: 'ARCHIVING' })
    expect(nextLookAny([running, archiving], new Set(['a']))).toBe(SLOW_POLL_MS)
    expect(nextLookAny([running], new Set(['a']))).toBe(false)
    expect(nextLookAny([running], new Set())).toBe(FAST_POLL_MS)
  })
})
