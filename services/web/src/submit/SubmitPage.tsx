import { useEffect, useRef, useState, type DragEvent, type FormEvent } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, ApiError } from '../api/client'
import { useConfig, useCreateJob, useSubmitJob } from '../api/hooks'
import type { Build, User } from '../api/types'
import { UploadCancelled, uploadFile, type UploadHandle } from '../api/upload'
import { ErrorMessage, usePageTitle } from '../common/Feedback'
import { formatBytes } from '../common/format'
import { readVcf, type VcfOverview } from '../vcf/header'
import { FileOverview } from './FileOverview'
import { fingerprintFile, httpTransport, MultipartUpload, resumableJob, UploadPaused, UploadStore } from './multipart'

type Stage =
  | { name: 'choosing' }
  | { name: 'reading'; file: File }
  | { name: 'ready'; file: File; overview: VcfOverview }
  | { name: 'uploading'; file: File; overview: VcfOverview; fraction: number; parts?: string; paused?: boolean }
  | { name: 'submitting'; file: File; overview: VcfOverview }

export function SubmitPage({ user }: { user: User }) {
  usePageTitle('Annotate a VCF')
  const config = useConfig()
  const createJob = useCreateJob()
  const submitJob = useSubmitJob()
  const navigate = useNavigate()
  const [stage, setStage] = useState<Stage>({ name: 'choosing' })
  const [problem, setProblem] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [build, setBuild] = useState<'detect' | Build>('detect')
  const [dragging, setDragging] = useState(false)
  const upload = useRef<UploadHandle | null>(null)
  const inParts = useRef<MultipartUpload | null>(null)
  const resumeUpload = useRef<(() => void) | null>(null)
  const [interrupted] = useState(() => new UploadStore().all())
  const fileInput = useRef<HTMLInputElement>(null)
  const uploadButton = useRef<HTMLButtonElement>(null)
  const cancelButton = useRef<HTMLButtonElement>(null)
  const latestFile = useRef<File | null>(null)

  const limit = user.tier === 'free' ? config.data?.free_size_limit_bytes : undefined
  // Reading a file is quick and may be replaced by another choice; only the upload locks the form.
  const busy = stage.name === 'uploading' || stage.name === 'submitting'

  // Keep a keyboard user's focus on what they can do next: cancel while uploading, then upload.
  useEffect(() => {
    if (stage.name === 'uploading') cancelButton.current?.focus()
  }, [stage.name])
  useEffect(() => {
    if (notice) uploadButton.current?.focus()
  }, [notice])

  const choose = async (file: File | undefined) => {
    if (!file || busy) return
    latestFile.current = file
    setProblem(null)
    setNotice(null)
    setStage({ name: 'reading', file })
    const overview = await readVcf(file)
    if (latestFile.current !== file) return // another file was chosen meanwhile
    setBuild(overview.build.build ?? 'detect')
    setStage({ name: 'ready', file, overview })
  }

  const onDrop = (event: DragEvent) => {
    event.preventDefault()
    setDragging(false)
    if (fileInput.current) fileInput.current.value = '' // the dropped file replaces a chosen one
    void choose(event.dataTransfer.files[0])
  }

  const start = async (event: FormEvent) => {
    event.preventDefault()
    if (stage.name !== 'ready') return
    const { file, overview } = stage
    setProblem(null)
    setNotice(null)
    try {
      const fingerprint = await fingerprintFile(file)
      // A file whose upload in parts was interrupted (reload, network) continues in its job.
      let jobId = await resumableJob(fingerprint)
      if (jobId === null) {
        const created = await createJob.mutateAsync({
          filename: file.name,
          size_bytes: file.size,
          build: build === 'detect' ? null : build,
          fingerprint,
        })
        jobId = created.job.id
        if (created.upload) {
          setStage({ name: 'uploading', file, overview, fraction: 0 })
          // The request is the file plus the form's fields: show the share of it that has gone.
          upload.current = uploadFile(created.upload, file, (sent, total) =>
            setStage((current) => (current.name === 'uploading' ? { ...current, fraction: sent / total } : current)),
          )
          await upload.current.done
        }
      }
      if (!upload.current) {
        setStage({ name: 'uploading', file, overview, fraction: 0 })
        inParts.current = new MultipartUpload(file, jobId, fingerprint, httpTransport, new UploadStore(), (p) =>
          setStage((current) =>
            current.name === 'uploading'
              ? { ...current, fraction: p.sentBytes / p.totalBytes, parts: `${p.partsDone} of ${p.partCount} parts` }
              : current,
          ),
        )
        await runUntilDone(inParts.current)
      }
      setStage({ name: 'submitting', file, overview })
      const job = await submitJob.mutateAsync(jobId)
      navigate(`/jobs/${job.id}`)
    } catch (error) {
      setStage({ name: 'ready', file, overview })
      if (error instanceof UploadCancelled) setNotice('Upload cancelled. Nothing was submitted; you can start again.')
      else setProblem(error)
    } finally {
      upload.current = null
      inParts.current = null
    }
  }

  /** Run an upload in parts; while it is paused, wait for the resume button. */
  const runUntilDone = async (parts: MultipartUpload) => {
    for (;;) {
      try {
        await parts.run()
        return
      } catch (error) {
        if (!(error instanceof UploadPaused)) throw error
        if (inParts.current !== parts) throw new UploadCancelled()
        const resumed = new Promise<void>((resolve) => (resumeUpload.current = resolve))
        setStage((current) => (current.name === 'uploading' ? { ...current, paused: true } : current))
        await resumed
        if (inParts.current !== parts) throw new UploadCancelled()
        setStage((current) => (current.name === 'uploading' ? { ...current, paused: false } : current))
      }
    }
  }

  const cancel = async () => {
    const parts = inParts.current
    if (!parts) {
      upload.current?.cancel()
      return
    }
    inParts.current = null
    parts.pause()
    resumeUpload.current?.()
    new UploadStore().forget(parts.fingerprint)
    await api(`/api/jobs/${encodeURIComponent(parts.jobId)}/upload`, { method: 'DELETE' }).catch(() => undefined)
  }

  const file = stage.name === 'choosing' ? null : stage.file
  const overview = 'overview' in stage ? stage.overview : null
  const tooLarge = file !== null && limit !== undefined && file.size > limit
  const serverSaysTooLarge = problem instanceof ApiError && problem.status === 413
  const canUpload = stage.name === 'ready' && !overview?.problem && !tooLarge

  return (
    <>
      <h1>Annotate a VCF</h1>
      <p className="text-body-secondary">
        {limit !== undefined
          ? `Free account: files up to ${formatBytes(limit)}. Compressing with bgzip makes most files fit.`
          : 'Premium account: files of any size.'}{' '}
        The file is checked here, in your browser, before it is uploaded.
      </p>
      {interrupted.length > 0 && stage.name === 'choosing' && (
        <div className="alert alert-info" role="status">
          An upload was interrupted ({interrupted.map((saved) => saved.filename).join(', ')}). Choose the same file
          again to continue where it stopped.
        </div>
      )}
      <form onSubmit={start}>
        <div
          className={`drop-zone mb-3 ${dragging ? 'dragging' : ''}`}
          data-testid="drop-zone"
          onDragOver={(event) => {
            event.preventDefault()
            setDragging(true)
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <p className="mb-2 fw-semibold">Drop a VCF file here (.vcf or .vcf.gz), or choose one</p>
          <label htmlFor="vcf-file" className="form-label visually-hidden">
            VCF file
          </label>
          <input
            ref={fileInput}
            id="vcf-file"
            type="file"
            className="form-control mx-auto"
            style={{ maxWidth: '28rem' }}
            accept=".vcf,.gz,.bgz,text/plain,application/gzip"
            disabled={busy}
            onChange={(event) => void choose(event.target.files?.[0])}
          />
        </div>

        {stage.name === 'reading' && (
          <p role="status" className="text-body-secondary">
            Reading {stage.file.name}…
          </p>
        )}
        {file && overview && <FileOverview file={file} overview={overview} />}

        {(tooLarge || serverSaysTooLarge) && file && (
          <div className="alert alert-warning" role="alert">
            <h2 className="h5">This file is too large for the free tier</h2>
            <p>
              {file.name} is {formatBytes(file.size)}; free accounts annotate files up to{' '}
              {limit !== undefined ? formatBytes(limit) : 'the free limit'}.
            </p>
            {overview && !overview.compressed && (
              <p>
                Compress it with <code>bgzip {file.name}</code> (from htslib): most VCFs shrink 5 to 10 times and GAS
                reads the <code>.vcf.gz</code> directly.
              </p>
            )}
            <Link className="btn btn-success" to="/account#upgrade">
              Upgrade to premium for files of any size
            </Link>
          </div>
        )}

        {overview && !overview.problem && !tooLarge && (
          <div className="mb-3" style={{ maxWidth: '28rem' }}>
            <label htmlFor="build" className="form-label">
              Genome build
            </label>
            <select
              id="build"
              className="form-select"
              value={build}
              disabled={busy}
              onChange={(event) => setBuild(event.target.value as 'detect' | Build)}
            >
              <option value="detect">Detect from the file</option>
              <option value="GRCh37">GRCh37 (hg19)</option>
              <option value="GRCh38">GRCh38 (hg38)</option>
            </select>
          </div>
        )}

        {stage.name === 'uploading' && (
          <div className="mb-3">
            <div className="d-flex justify-content-between small">
              <span>
                {stage.paused ? 'Paused' : 'Uploading'} {stage.file.name}
                {stage.parts && ` (${stage.parts})`}
              </span>
              <span>
                {formatBytes(Math.round(stage.fraction * stage.file.size))} of {formatBytes(stage.file.size)}
              </span>
            </div>
            <div
              className="progress"
              role="progressbar"
              aria-label="Upload progress"
              aria-valuenow={Math.round(100 * stage.fraction)}
              aria-valuemin={0}
              aria-valuemax={100}
            >
              <div className="progress-bar" style={{ width: `${100 * stage.fraction}%` }} />
            </div>
          </div>
        )}
        {stage.name === 'submitting' && (
          <p role="status" className="text-body-secondary">
            Uploaded. Queueing the job…
          </p>
        )}
        {notice && (
          <div className="alert alert-secondary" role="status">
            {notice}
          </div>
        )}
        {problem !== null && !serverSaysTooLarge && (
          <ErrorMessage error={problem} action={<p className="mb-0">Try again; if it keeps failing, try another file.</p>} />
        )}

        <div className="d-flex gap-2">
          <button ref={uploadButton} type="submit" className="btn btn-primary" disabled={!canUpload}>
            Upload and annotate
          </button>
          {stage.name === 'uploading' && (
            <button
              ref={cancelButton}
              type="button"
              className="btn btn-outline-secondary"
              onClick={() => void cancel()}
            >
              Cancel upload
            </button>
          )}
          {stage.name === 'uploading' && stage.parts && !stage.paused && (
            <button type="button" className="btn btn-outline-secondary" onClick={() => inParts.current?.pause()}>
              Pause upload
            </button>
          )}
          {stage.name === 'uploading' && stage.paused && (
            <button type="button" className="btn btn-outline-primary" onClick={() => resumeUpload.current?.()}>
              Resume upload
            </button>
          )}
        </div>
      </form>
    </>
  )
}
