import { Link, useParams } from 'react-router'
import { ApiError } from '../api/client'
import { useConfig, useJob, useJobLog, useResultLink } from '../api/hooks'
import type { Job, User, WebConfig } from '../api/types'
import { ErrorMessage, Loading, useNow, usePageTitle } from '../common/Feedback'
import { formatBytes, formatDateTime, formatMoment, timeLeft } from '../common/format'
import { archivesAt, StatusBadge } from './status'
import { Provenance, SummaryCharts } from './Summary'
import { Timeline } from './Timeline'

export function JobPage({ user }: { user: User }) {
  const { jobId = '' } = useParams()
  const job = useJob(jobId)
  const config = useConfig()
  usePageTitle(job.data ? job.data.input_filename : 'Job')

  if (job.isPending) return <Loading what="the job" />
  if (!job.data) {
    const missing = job.error instanceof ApiError && job.error.status === 404
    return (
      <>
        <h1>{missing ? 'No such job' : 'This job cannot be shown'}</h1>
        <ErrorMessage
          error={job.error}
          action={
            <p className="mb-0">
              See <Link to="/jobs">your jobs</Link>
              {missing ? ': this link may belong to another account.' : ', or reload to try again.'}
            </p>
          }
        />
      </>
    )
  }
  const data = job.data
  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb">
          <li className="breadcrumb-item">
            <Link to="/jobs">Jobs</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            {data.input_filename}
          </li>
        </ol>
      </nav>
      <div className="d-flex flex-wrap align-items-center gap-3 mb-2">
        <h1 className="mb-0 text-break">{data.input_filename}</h1>
        <StatusBadge status={data.status} />
      </div>
      <p className="text-body-secondary">
        {formatBytes(data.input_size_bytes)} · {data.build ?? 'build not detected yet'} · submitted{' '}
        {formatDateTime(data.submitted_at)} · job <code>{data.id}</code>
      </p>
      {job.isError && (
        <div className="alert alert-warning" role="status">
          Could not refresh this job ({job.error.message}); showing what was last seen.
        </div>
      )}
      <Timeline job={data} />
      <Progress job={data} />
      {data.status === 'FAILED' && (
        <div className="alert alert-danger" role="alert">
          <h2 className="h5">The annotation failed</h2>
          <p>{data.error ?? 'The log below says why.'}</p>
          <p className="mb-0">
            Fix the file and <Link to="/submit">submit it again</Link>.
          </p>
        </div>
      )}
      {data.status === 'COMPLETED' && <ResultPanel job={data} user={user} config={config.data} />}
      {data.summary && <SummaryCharts summary={data.summary} />}
      {data.provenance && <Provenance provenance={data.provenance} />}
      <LogPanel job={data} />
    </>
  )
}

function Progress({ job }: { job: Job }) {
  if (job.status === 'CREATED') {
    return (
      <div className="alert alert-secondary" role="status">
        This job is waiting for its file. If the upload was interrupted, <Link to="/submit">start again</Link>.
      </div>
    )
  }
  if (job.status === 'QUEUED') {
    return (
      <div className="alert alert-info" role="status" aria-live="polite">
        {job.queue_position != null
          ? `Queued: position ${job.queue_position} in the queue. It starts when a worker is free.`
          : 'Queued: it starts when a worker is free.'}{' '}
        This page updates by itself.
      </div>
    )
  }
  if (job.status === 'RUNNING') {
    return (
      <section className="mb-4" aria-labelledby="progress-heading">
        <h2 className="h5" id="progress-heading">
          Annotating: {job.progress}%
        </h2>
        <div
          className="progress"
          role="progressbar"
          aria-label="Annotation progress"
          aria-valuenow={job.progress}
          aria-valuemin={0}
          aria-valuemax={100}
        >
          <div className="progress-bar progress-bar-striped progress-bar-animated" style={{ width: `${job.progress}%` }} />
        </div>
      </section>
    )
  }
  return null
}

function ResultPanel({ job, user, config }: { job: Job; user: User; config: WebConfig | undefined }) {
  const link = useResultLink()
  const now = useNow()
  const download = () =>
    link.mutate(job.id, {
      onSuccess: (result) => window.location.assign(result.url),
    })
  if (job.storage === 'ARCHIVED') {
    return (
      <section className="card border-warning mb-4" aria-labelledby="result-heading">
        <div className="card-body">
          <h2 className="h5" id="result-heading">
            The result is archived
          </h2>
          {user.tier === 'free' ? (
            <>
              <p>
                Free results move to cold storage after the download window. Upgrade to premium and GAS restores
                this result, and every other archived one, to download again.
              </p>
              <Link className="btn btn-success" to="/account#upgrade">
                Upgrade to premium
              </Link>
            </>
          ) : (
            <p className="mb-0">It will be restored for your premium account; this page updates when it is back.</p>
          )}
        </div>
      </section>
    )
  }
  if (job.storage === 'RESTORING') {
    return (
      <section className="alert alert-info mb-4" role="status" aria-labelledby="result-heading">
        <h2 className="h5" id="result-heading">
          Restoring the result from cold storage
        </h2>
        <p className="mb-0">
          {restoreWait(job.restore_tier)} This page updates by itself, and the download appears here when the result is
          back.
        </p>
      </section>
    )
  }
  if (job.storage === 'ARCHIVING') {
    return (
      <div className="alert alert-warning mb-4" role="status">
        The result is moving to cold storage. Upgrade to premium to keep results available.
      </div>
    )
  }
  const when = archivesAt(job, user, config)
  return (
    <section className="mb-4" aria-labelledby="result-heading">
      <h2 className="h5" id="result-heading">
        Result
      </h2>
      <div className="d-flex flex-wrap gap-2">
        <button type="button" className="btn btn-primary" onClick={download} disabled={link.isPending}>
          {link.isPending ? 'Preparing the download…' : 'Download the annotated VCF'}
        </button>
        <Link className="btn btn-outline-primary" to={`/jobs/${job.id}/variants`}>
          View and filter the variants
        </Link>
      </div>
      {when && (
        <p className="mt-2 mb-0 text-body-secondary">
          Free results can be downloaded until {formatMoment(when)} ({timeLeft(when, now)}), then move to cold
          storage.{' '}
          <Link to="/account#upgrade">Upgrade</Link> to keep them available.
        </p>
      )}
      {link.isError && (
        <div className="mt-2">
          <ErrorMessage error={link.error} />
        </div>
      )}
    </section>
  )
}

function LogPanel({ job }: { job: Job }) {
  const log = useJobLog(job)
  if (!log.isEnabled) return null
  return (
    <section className="mb-4" aria-labelledby="log-heading">
      <h2 className="h5" id="log-heading">
        Log{job.status === 'RUNNING' && <span className="fs-6 fw-normal text-body-secondary"> (updates while the job runs)</span>}
      </h2>
      {log.isPending ? (
        <Loading what="the log" />
      ) : log.isError ? (
        <p className="text-body-secondary">{log.error.message}</p>
      ) : (
        <pre className="log border rounded p-3 bg-body-tertiary" tabIndex={0} aria-labelledby="log-heading">
          {log.data || 'The log is empty so far.'}
        </pre>
      )}
    </section>
  )
}

/** What the retrieval tier the archiver asked S3 for means for the wait. */
export function restoreWait(tier: string | null | undefined): string {
  if (tier === 'Expedited') return 'Expedited retrieval: usually 1–5 minutes.'
  if (tier === 'Standard') return 'Standard retrieval: usually 3–5 hours (expedited retrieval was not available).'
  return 'Retrieval usually takes minutes (expedited), at most a few hours.'
}
