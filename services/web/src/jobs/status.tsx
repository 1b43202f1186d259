// How a job's status and storage read on a page.
import type { Job, JobStatus, User, WebConfig } from '../api/types'
import { formatMoment, timeLeft } from '../common/format'

const STATUS: Record<JobStatus, { label: string; badge: string }> = {
  CREATED: { label: 'Waiting for upload', badge: 'text-bg-light border' },
  QUEUED: { label: 'Queued', badge: 'text-bg-info' },
  RUNNING: { label: 'Running', badge: 'text-bg-primary' },
  COMPLETED: { label: 'Completed', badge: 'text-bg-success' },
  FAILED: { label: 'Failed', badge: 'text-bg-danger' },
}

export function StatusBadge({ status }: { status: JobStatus }) {
  const { label, badge } = STATUS[status]
  return <span className={`badge ${badge}`}>{label}</span>
}

/** When a free user's available result moves to cold storage, if it will. */
export function archivesAt(job: Job, user: User, config: WebConfig | undefined): Date | null {
  if (job.status !== 'COMPLETED' || job.storage !== 'AVAILABLE' || !job.completed_at || !config) return null
  if (user.tier !== 'free' || job.tier !== 'free') return null
  return new Date(new Date(job.completed_at).getTime() + config.free_window_seconds * 1000)
}

export function storageText(job: Job, user: User, config: WebConfig | undefined, now: Date = new Date()): string {
  if (job.status !== 'COMPLETED') return '—'
  switch (job.storage) {
    case 'AVAILABLE': {
      const when = archivesAt(job, user, config)
      return when ? `Available; archives at ${formatMoment(when)} (${timeLeft(when, now)})` : 'Available'
    }
    case 'ARCHIVING':
      return 'Moving to cold storage'
    case 'ARCHIVED':
      return 'Archived'
    case 'RESTORING':
      return 'Restoring'
    default:
      return '—'
  }
}
