// How pages learn that a job moved on. While a job is queued or running, the jobs service
// streams it as Server-Sent Events (GET /api/jobs/{id}/events, through the gateway); the stream
// writes the same query caches the pages read. Where the stream cannot be had (no EventSource,
// a refusal, a proxy that drops it again and again), the queries poll instead, and they poll
// slowly for what the stream does not carry (a finished result moving to cold storage and back).
import type { Job } from './types'

export const FAST_POLL_MS = 2000
export const SLOW_POLL_MS = 10000
/** Consecutive failures to (re)connect after which a page stops trying and polls. */
export const MAX_STREAM_FAILURES = 3

/** How soon to look at this job again, or false when nothing more will happen to it by itself. */
export function nextLook(job: Job): number | false {
  if (isMoving(job)) return FAST_POLL_MS
  if (job.status !== 'COMPLETED') return false
  // An archived result starts restoring when its owner upgrades, maybe in another tab.
  if (job.storage === 'ARCHIVING' || job.storage === 'RESTORING' || job.storage === 'ARCHIVED') return SLOW_POLL_MS
  if (job.storage === 'AVAILABLE' && job.tier === 'free') return SLOW_POLL_MS // it will archive
  return false
}

/** The soonest look any of these jobs needs; jobs in `streamed` come by their stream instead. */
export function nextLookAny(jobs: readonly Job[], streamed: ReadonlySet<string> = new Set()): number | false {
  const waits = jobs
    .filter((job) => !(streamed.has(job.id) && isMoving(job)))
    .map(nextLook)
    .filter((wait): wait is number => wait !== false)
  return waits.length ? Math.min(...waits) : false
}

/** Queued or running: what the event stream follows. */
export function isMoving(job: Job): boolean {
  return job.status === 'QUEUED' || job.status === 'RUNNING'
}

/** connecting: opening or reopening; live: events arrive; polling: given up on the stream;
 * ended: the job finished and its stream is closed. */
export type StreamState = 'connecting' | 'live' | 'polling' | 'ended'

export interface Follower {
  onJob: (job: Job) => void
  onState: (state: StreamState) => void
}

type EventSourceClass = new (url: string) => EventSource

/** Follow one job's event stream until it finishes, or until the stream keeps failing.
 * Returns the function that stops following. */
export function followJob(
  jobId: string,
  { onJob, onState }: Follower,
  Source: EventSourceClass | undefined = globalThis.EventSource,
): () => void {
  if (!Source) {
    onState('polling')
    return () => {}
  }
  const source = new Source(`/api/jobs/${encodeURIComponent(jobId)}/events`)
  let failures = 0
  let stopped = false
  const stop = (state?: StreamState) => {
    if (stopped) return
    stopped = true
    source.close()
    if (state) onState(state)
  }
  onState('connecting')
  source.onopen = () => {
    failures = 0
    if (!stopped) onState('live')
  }
  source.addEventListener('job', (event) => {
    if (stopped) return
    let job: Job
    try {
      job = JSON.parse((event as MessageEvent<string>).data) as Job
    } catch {
      return
    }
    onJob(job)
    // The server ends the stream after a finished job; closing first keeps the browser from
    // reconnecting to a stream with nothing more to say.
    if (!isMoving(job)) stop('ended')
  })
  source.onerror = () => {
    if (stopped) return
    failures += 1
    // CLOSED: the browser will not retry (a refusal, or not an event stream at all).
    if (source.readyState === 2 || failures >= MAX_STREAM_FAILURES) stop('polling')
    else onState('connecting')
  }
  return () => stop()
}
