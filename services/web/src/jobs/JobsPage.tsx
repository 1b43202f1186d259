import { useState } from 'react'
import { Link } from 'react-router'
import { useConfig, useJobs } from '../api/hooks'
import type { Job, User, WebConfig } from '../api/types'
import { ErrorMessage, Loading, useNow, usePageTitle } from '../common/Feedback'
import { formatBytes, formatDateTime } from '../common/format'
import { StatusBadge, storageText } from './status'

export function JobsPage({ user }: { user: User }) {
  usePageTitle('Your jobs')
  // Cursors of the pages before this one, so "Newer" can go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null])
  const cursor = cursors[cursors.length - 1] ?? null
  const jobs = useJobs(cursor)
  const config = useConfig()
  const now = useNow()
  const page = jobs.data

  return (
    <>
      <div className="d-flex flex-wrap justify-content-between align-items-center gap-2 mb-3">
        <h1 className="mb-0">Your jobs</h1>
        <Link className="btn btn-primary" to="/submit">
          Annotate a VCF
        </Link>
      </div>
      {jobs.isPending ? (
        <Loading what="your jobs" />
      ) : jobs.isError && !page ? (
        <ErrorMessage error={jobs.error} action={<p className="mb-0">The list refreshes by itself; reload to try now.</p>} />
      ) : page && page.count === 0 ? (
        <div className="text-center border rounded-3 p-5 bg-body-tertiary">
          <h2 className="h4">No jobs yet</h2>
          <p>Annotate your first VCF: you can follow it here while it runs.</p>
          <Link className="btn btn-primary" to="/submit">
            Annotate a VCF
          </Link>
        </div>
      ) : page ? (
        <>
          <p className="text-body-secondary" aria-live="polite">
            {page.count} {page.count === 1 ? 'job' : 'jobs'}, newest first. This list updates by itself.
          </p>
          <div className="table-responsive">
            <table className="table align-middle">
              <caption className="visually-hidden">Your annotation jobs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Input</th>
                  <th scope="col">Status</th>
                  <th scope="col">Size</th>
                  <th scope="col">Build</th>
                  <th scope="col">Submitted</th>
                  <th scope="col">Finished</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {page.data.map((job) => (
                  <JobRow key={job.id} job={job} user={user} config={config.data} now={now} />
                ))}
              </tbody>
            </table>
          </div>
          {(cursors.length > 1 || page.next) && (
          <nav aria-label="Pages of jobs" className="d-flex gap-2">
            <button
              type="button"
              className="btn btn-outline-secondary"
              disabled={cursors.length === 1}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              Newer
            </button>
            <button
              type="button"
              className="btn btn-outline-secondary"
              disabled={!page.next}
              onClick={() => page.next && setCursors([...cursors, page.next])}
            >
              Older
            </button>
          </nav>
          )}
        </>
      ) : null}
    </>
  )
}

function JobRow({ job, user, config, now }: { job: Job; user: User; config: WebConfig | undefined; now: Date }) {
  return (
    <tr>
      <td>
        <Link to={`/jobs/${job.id}`}>{job.input_filename}</Link>
      </td>
      <td>
        <StatusBadge status={job.status} />
        {job.status === 'QUEUED' && job.queue_position != null && (
          <div className="small text-body-secondary">Position {job.queue_position} in the queue</div>
        )}
        {job.status === 'RUNNING' && (
          <div
            className="progress mt-1"
            style={{ height: '0.5rem', width: '7rem' }}
            role="progressbar"
            aria-label={`Progress of ${job.input_filename}`}
            aria-valuenow={job.progress}
            aria-valuemin={0}
            aria-valuemax={100}
          >
            <div className="progress-bar" style={{ width: `${job.progress}%` }} />
          </div>
        )}
      </td>
      <td>{formatBytes(job.input_size_bytes)}</td>
      <td>{job.build ?? 'detecting'}</td>
      <td>{formatDateTime(job.submitted_at)}</td>
      <td>{formatDateTime(job.completed_at)}</td>
      <td>{storageText(job, user, config, now)}</td>
    </tr>
  )
}
