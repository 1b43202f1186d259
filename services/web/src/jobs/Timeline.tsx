import type { Job } from '../api/types'
import { formatDateTime } from '../common/format'

type Step = { label: string; at: string | null; state: 'done' | 'current' | 'failed' | 'waiting' }

export function steps(job: Job): Step[] {
  const order = ['CREATED', 'QUEUED', 'RUNNING', 'COMPLETED'] as const
  const reached = job.status === 'FAILED' ? (job.started_at ? 2 : job.queued_at ? 1 : 0) : order.indexOf(job.status)
  const times = [job.submitted_at, job.queued_at, job.started_at, job.completed_at]
  const labels = ['Submitted', 'Queued', 'Running', job.status === 'FAILED' ? 'Failed' : 'Completed']
  return labels.map((label, index) => {
    let state: Step['state'] = index < reached ? 'done' : index === reached ? 'current' : 'waiting'
    if (job.status === 'COMPLETED' && index === 3) state = 'done'
    if (job.status === 'FAILED' && index === 3) state = 'failed'
    if (job.status === 'FAILED' && index === reached) state = 'done'
    return { label, at: times[index] ?? null, state }
  })
}

export function Timeline({ job }: { job: Job }) {
  return (
    <section aria-labelledby="timeline-heading" className="mb-3">
      <h2 className="visually-hidden" id="timeline-heading">
        Status timeline
      </h2>
      <ol className="timeline">
        {steps(job).map((step) => (
          <li key={step.label} className={step.state} aria-current={step.state === 'current' ? 'step' : undefined}>
            <span className="dot" aria-hidden="true" />
            <span>
              <span className="fw-semibold">{step.label}</span>
              <span className="visually-hidden">: {step.state === 'waiting' ? 'not yet' : step.state}</span>
              <br />
              <small className="text-body-secondary">{step.at ? formatDateTime(step.at) : 'not yet'}</small>
            </span>
          </li>
        ))}
      </ol>
    </section>
  )
}
