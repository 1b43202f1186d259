// How pages learn that a job moved on. Today the queries poll while something can still change;
// a Server-Sent Events source can later write the same query keys (queryClient.setQueryData on
// ['job', id] and invalidate ['jobs']) and return false here, without any page changing.
import type { Job } from './types'

export const FAST_POLL_MS = 2000
export const SLOW_POLL_MS = 10000

/** How soon to look at this job again, or false when nothing more will happen to it by itself. */
export function nextLook(job: Job): number | false {
  if (job.status === 'QUEUED' || job.status === 'RUNNING') return FAST_POLL_MS
  if (job.status !== 'COMPLETED') return false
  if (job.storage === 'ARCHIVING' || job.storage === 'RESTORING') return SLOW_POLL_MS
  if (job.storage === 'AVAILABLE' && job.tier === 'free') return SLOW_POLL_MS // it will archive
  return false
}

/** The soonest look any of these jobs needs. */
export function nextLookAny(jobs: readonly Job[]): number | false {
  const waits = jobs.map(nextLook).filter((wait): wait is number => wait !== false)
  return waits.length ? Math.min(...waits) : false
}
