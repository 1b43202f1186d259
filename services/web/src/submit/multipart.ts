// Uploads in parts from the browser: the file's parts go to storage a few at a time through
// presigned URLs (each with its SHA-256, which storage checks), and the upload's state is kept
// in localStorage under the file's fingerprint, so a reload, a dropped network or a pause
// continues with the parts storage does not hold yet instead of starting over.
import { api } from '../api/client'
import type { Job, JobsPage } from '../api/types'

export interface Plan {
  part_bytes: number
  part_count: number
}

export interface PartUrl {
  number: number
  url: string
  headers: Record<string, string>
}

/** What the upload needs from the jobs API and from storage (injected, so tests use fakes). */
export interface Transport {
  partUrls(jobId: string, parts: { number: number; sha256: string }[]): Promise<PartUrl[]>
  uploadedParts(jobId: string): Promise<{ upload: Plan; parts: { number: number; size: number }[] }>
  complete(jobId: string): Promise<void>
  put(url: PartUrl, body: Blob, signal: AbortSignal): Promise<void>
}

export interface SavedUpload {
  jobId: string
  filename: string
  fingerprint: string
  plan: Plan
  done: number[]
}

const KEY_PREFIX = 'gas.upload.'

/** The saved state of the uploads in progress, one entry per file fingerprint. */
export class UploadStore {
  constructor(private readonly storage: Storage = window.localStorage) {}

  load(fingerprint: string): SavedUpload | null {
    try {
      const raw = this.storage.getItem(KEY_PREFIX + fingerprint)
      return raw ? (JSON.parse(raw) as SavedUpload) : null
    } catch {
      return null
    }
  }

  save(saved: SavedUpload): void {
    try {
      this.storage.setItem(KEY_PREFIX + saved.fingerprint, JSON.stringify(saved))
    } catch {
      // Storage full or disabled: the upload goes on, it just cannot continue after a reload.
    }
  }

  /** Every upload in progress saved in this browser. */
  all(): SavedUpload[] {
    const found: SavedUpload[] = []
    for (let index = 0; index < this.storage.length; index++) {
      const key = this.storage.key(index)
      if (key?.startsWith(KEY_PREFIX)) {
        const saved = this.load(key.slice(KEY_PREFIX.length))
        if (saved) found.push(saved)
      }
    }
    return found
  }

  forget(fingerprint: string): void {
    this.storage.removeItem(KEY_PREFIX + fingerprint)
  }
}

const MiB = 1024 * 1024

export function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}

export function base64(bytes: ArrayBuffer): string {
  let text = ''
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte)
  return btoa(text)
}

async function digest(data: Blob | string): Promise<ArrayBuffer> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : await data.arrayBuffer()
  return crypto.subtle.digest('SHA-256', bytes)
}

/** Stable for one file, cheap for a big one: name, size, modification time and the SHA-256 of
 * the first and last MiB. A changed file gets a new fingerprint and a new upload. */
export async function fingerprintFile(file: File): Promise<string> {
  const ends = await Promise.all([
    digest(file.slice(0, MiB)),
    digest(file.slice(Math.max(MiB, file.size - MiB))),
  ])
  const all = await digest(`${file.name}:${file.size}:${file.lastModified}:${hex(ends[0])}:${hex(ends[1])}`)
  return `w1:${hex(all).slice(0, 40)}`
}

export function partRange(plan: Plan, size: number, number: number): [number, number] {
  const start = (number - 1) * plan.part_bytes
  return [start, Math.min(start + plan.part_bytes, size)]
}

/** Part numbers still to send: those storage does not hold with the right size. */
export function missingParts(plan: Plan, size: number, held: { number: number; size: number }[]): number[] {
  const sizes = new Map(held.map((part) => [part.number, part.size]))
  const missing: number[] = []
  for (let number = 1; number <= plan.part_count; number++) {
    const [start, end] = partRange(plan, size, number)
    if (sizes.get(number) !== end - start) missing.push(number)
  }
  return missing
}

export class UploadPaused extends Error {
  constructor() {
    super('Upload paused.')
    this.name = 'UploadPaused'
  }
}

export interface Progress {
  sentBytes: number
  totalBytes: number
  partsDone: number
  partCount: number
}

/** One file's upload in parts into job ``jobId``. ``run`` sends what storage lacks and
 * completes the upload; ``pause`` stops it (the parts sent stay), and ``run`` again resumes. */
export class MultipartUpload {
  private controller: AbortController | null = null
  private readonly done = new Set<number>()

  constructor(
    readonly file: File,
    readonly jobId: string,
    readonly fingerprint: string,
    private readonly transport: Transport,
    private readonly store: UploadStore,
    private readonly onProgress: (progress: Progress) => void,
    private readonly parallel = 4,
    private readonly retries = 5,
  ) {}

  pause(): void {
    this.controller?.abort()
  }

  async run(): Promise<void> {
    const controller = new AbortController()
    this.controller = controller
    const { upload: plan, parts } = await this.transport.uploadedParts(this.jobId)
    const todo = missingParts(plan, this.file.size, parts)
    this.done.clear()
    for (let number = 1; number <= plan.part_count; number++) if (!todo.includes(number)) this.done.add(number)
    this.save(plan)
    this.report(plan)
    const queue = [...todo]
    const worker = async () => {
      for (let number = queue.shift(); number !== undefined; number = queue.shift()) {
        await this.send(plan, number, controller.signal)
        this.done.add(number)
        this.save(plan)
        this.report(plan)
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.min(this.parallel, todo.length) }, worker))
    } catch (error) {
      const paused = controller.signal.aborted || error instanceof UploadPaused
      controller.abort() // stop the other workers too
      throw paused ? new UploadPaused() : error
    }
    await this.transport.complete(this.jobId)
    this.store.forget(this.fingerprint)
  }

  private async send(plan: Plan, number: number, signal: AbortSignal): Promise<void> {
    const [start, end] = partRange(plan, this.file.size, number)
    const body = this.file.slice(start, end)
    const sha256 = base64(await digest(body))
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new UploadPaused()
      try {
        const [url] = await this.transport.partUrls(this.jobId, [{ number, sha256 }])
        if (!url) throw new Error(`No upload URL for part ${number}.`)
        await this.transport.put(url, body, signal)
        return
      } catch (error) {
        if (signal.aborted) throw new UploadPaused()
        if (attempt >= this.retries) throw error
        await waitForNetwork(signal, 1000 * attempt)
      }
    }
  }

  private save(plan: Plan): void {
    this.store.save({
      jobId: this.jobId,
      filename: this.file.name,
      fingerprint: this.fingerprint,
      plan,
      done: [...this.done].sort((a, b) => a - b),
    })
  }

  private report(plan: Plan): void {
    let sent = 0
    for (const number of this.done) {
      const [start, end] = partRange(plan, this.file.size, number)
      sent += end - start
    }
    this.onProgress({ sentBytes: sent, totalBytes: this.file.size, partsDone: this.done.size, partCount: plan.part_count })
  }
}

/** Wait ``ms``, and while the browser is offline, until it is back online. */
function waitForNetwork(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      window.removeEventListener('online', finish)
      signal.removeEventListener('abort', finish)
      resolve()
    }
    signal.addEventListener('abort', finish)
    if (typeof navigator !== 'undefined' && navigator.onLine === false) window.addEventListener('online', finish)
    else setTimeout(finish, ms)
  })
}

/** The real transport: the jobs API through the gateway, and storage by presigned PUT. */
export const httpTransport: Transport = {
  partUrls: async (jobId, parts) =>
    (
      await api<{ parts: PartUrl[] }>(`/api/jobs/${encodeURIComponent(jobId)}/upload/parts`, {
        method: 'POST',
        json: { parts },
      })
    ).parts,
  uploadedParts: (jobId) => api(`/api/jobs/${encodeURIComponent(jobId)}/upload/parts`),
  complete: async (jobId) => {
    await api(`/api/jobs/${encodeURIComponent(jobId)}/upload/complete`, { method: 'POST' })
  },
  put: async (url, body, signal) => {
    const response = await fetch(url.url, { method: 'PUT', body, headers: url.headers, signal })
    if (!response.ok) throw new Error(`Storage refused part ${url.number} (HTTP ${response.status}).`)
  },
}

/** The job of an interrupted upload of the file with this fingerprint, if it still waits for
 * its parts (saved in this browser, or known to the server by the fingerprint). */
export async function resumableJob(fingerprint: string, store = new UploadStore()): Promise<string | null> {
  const saved = store.load(fingerprint)
  const candidates: Job[] = []
  if (saved) {
    try {
      candidates.push(await api<Job>(`/api/jobs/${encodeURIComponent(saved.jobId)}`))
    } catch {
      store.forget(fingerprint)
    }
  }
  candidates.push(...(await api<JobsPage>('/api/jobs?status=CREATED&limit=100')).data)
  const job = candidates.find((candidate) => candidate.status === 'CREATED' && candidate.upload?.fingerprint === fingerprint)
  return job?.id ?? null
}
