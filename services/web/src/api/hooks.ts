// Every server read and write of the app, as TanStack Query hooks. Pages use only these.
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query'
import { useEffect, useMemo, useRef, useState } from 'react'
import { api, ApiError } from './client'
import { followJob, isMoving, nextLook, nextLookAny, type StreamState } from './live'
import type {
  ApiTokenCreated,
  ApiTokens,
  Job,
  JobCreate,
  JobCreated,
  JobsPage,
  ResultLink,
  User,
  VariantsPage,
  WebConfig,
} from './types'

export const JOBS_PAGE_SIZE = 20

export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: () => api<User>('/api/me'),
    retry: (count, error) => !(error instanceof ApiError && error.status === 401) && count < 2,
    staleTime: 30_000,
  })
}

export function useConfig() {
  return useQuery({ queryKey: ['config'], queryFn: () => api<WebConfig>('/api/config'), staleTime: Infinity })
}

/** How many jobs of the list follow their own event stream; the rest poll. Browsers allow six
 * connections per host over HTTP/1.1, and an open stream holds one. */
export const LIST_STREAMS = 2

export function useJobs(cursor: string | null) {
  const [streamed, setStreamed] = useState<ReadonlySet<string>>(new Set())
  const jobs = useQuery({
    queryKey: ['jobs', cursor],
    queryFn: () => {
      const params = new URLSearchParams({ limit: String(JOBS_PAGE_SIZE) })
      if (cursor) params.set('cursor', cursor)
      return api<JobsPage>(`/api/jobs?${params}`)
    },
    placeholderData: keepPreviousData,
    refetchInterval: (query) => nextLookAny(query.state.data?.data ?? [], streamed),
  })
  const moving = (jobs.data?.data ?? []).filter(isMoving).slice(0, LIST_STREAMS)
  const live = useJobStreams(moving.map((job) => job.id))
  useEffect(() => {
    setStreamed((current) => (sameMembers(current, live) ? current : live))
  }, [live])
  return jobs
}

export function useJob(id: string) {
  const [streaming, setStreaming] = useState(false)
  const job = useQuery({
    queryKey: ['job', id],
    queryFn: () => api<Job>(`/api/jobs/${encodeURIComponent(id)}`),
    refetchInterval: (query) => {
      const data = query.state.data
      if (!data) return false
      return streaming && isMoving(data) ? false : nextLook(data)
    },
  })
  const live = useJobStreams(job.data && isMoving(job.data) ? [id] : [])
  useEffect(() => setStreaming(live.has(id)), [live, id])
  return job
}

/** Follow these jobs' event streams (one each) into the query caches; the ids whose stream is
 * live now, so their queries need not poll. */
function useJobStreams(ids: readonly string[]): ReadonlySet<string> {
  const client = useQueryClient()
  const [states, setStates] = useState<Record<string, StreamState>>({})
  const streams = useRef(new Map<string, () => void>())
  const key = ids.join(',')
  useEffect(() => {
    const wanted = new Set(key ? key.split(',') : [])
    for (const [id, stop] of streams.current) {
      if (!wanted.has(id)) {
        stop()
        streams.current.delete(id)
      }
    }
    for (const id of wanted) {
      if (streams.current.has(id)) continue
      streams.current.set(
        id,
        followJob(id, {
          onJob: (job) => writeJob(client, job),
          onState: (state) => setStates((current) => ({ ...current, [id]: state })),
        }),
      )
    }
  }, [key, client])
  useEffect(() => {
    const open = streams.current
    return () => {
      for (const stop of open.values()) stop()
      open.clear()
    }
  }, [])
  const live = ids.filter((id) => states[id] === 'live').join(',')
  return useMemo(() => new Set(live ? live.split(',') : []), [live])
}

/** A job as a stream told it, into every cache that shows it. */
function writeJob(client: QueryClient, job: Job) {
  client.setQueryData(['job', job.id], job)
  client.setQueriesData<JobsPage>({ queryKey: ['jobs'] }, (page) =>
    page ? { ...page, data: page.data.map((shown) => (shown.id === job.id ? job : shown)) } : page,
  )
  if (!isMoving(job)) void client.invalidateQueries({ queryKey: ['jobs'] })
}

function sameMembers(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item))
}

export const RUNNING_LOG_POLL_MS = 3000

/** The job's log: the annotator uploads it every few seconds while the job runs, and once more
 * when it ends. Until the first upload the API says so (409), which the page shows as text. */
export function useJobLog(job: Job | undefined) {
  const running = job?.status === 'RUNNING'
  return useQuery({
    queryKey: ['job', job?.id, 'log', job?.status],
    queryFn: () => api<string>(`/api/jobs/${encodeURIComponent(job?.id ?? '')}/log`),
    enabled: running || job?.status === 'COMPLETED' || job?.status === 'FAILED',
    // While the final log loads, the running one stays (but never another job's).
    placeholderData: (previous, query) => (query?.queryKey[1] === job?.id ? previous : undefined),
    refetchInterval: running ? RUNNING_LOG_POLL_MS : false,
    retry: false,
  })
}

/** One page of a result's variants; `query` is the API's query string (see viewer/filters). */
export function useVariants(jobId: string, query: string, enabled: boolean) {
  return useQuery({
    queryKey: ['job', jobId, 'variants', query],
    queryFn: ({ signal }) => api<VariantsPage>(`/api/jobs/${encodeURIComponent(jobId)}/variants?${query}`, { signal }),
    placeholderData: keepPreviousData,
    enabled,
    staleTime: 60_000,
  })
}

export function useResultLink() {
  return useMutation({
    mutationFn: (jobId: string) => api<ResultLink>(`/api/jobs/${encodeURIComponent(jobId)}/result`),
  })
}

export function useCreateJob() {
  return useMutation({ mutationFn: (body: JobCreate) => api<JobCreated>('/api/jobs', { method: 'POST', json: body }) })
}

export function useSubmitJob() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: (jobId: string) => api<Job>(`/api/jobs/${encodeURIComponent(jobId)}/submit`, { method: 'POST' }),
    onSuccess: (job) => {
      client.setQueryData(['job', job.id], job)
      void client.invalidateQueries({ queryKey: ['jobs'] })
    },
  })
}

export function useUpgrade() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: (cardNumber: string) => api<User>('/api/me/upgrade', { method: 'POST', json: { card_number: cardNumber } }),
    onSuccess: (user) => {
      client.setQueryData(['me'], user)
      void client.invalidateQueries({ queryKey: ['jobs'] })
      void client.invalidateQueries({ queryKey: ['job'] })
    },
  })
}

export function useTokens() {
  return useQuery({ queryKey: ['tokens'], queryFn: () => api<ApiTokens>('/api/tokens') })
}

export function useCreateToken() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: (name: string) => api<ApiTokenCreated>('/api/tokens', { method: 'POST', json: { name } }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['tokens'] }),
  })
}

export function useRevokeToken() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: (tokenId: string) => api<void>(`/api/tokens/${encodeURIComponent(tokenId)}`, { method: 'DELETE' }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['tokens'] }),
  })
}

export function useSignOut() {
  return useMutation({
    mutationFn: async () => {
      // The gateway ends our session and names the identity provider's sign-out page; the
      // window goes there so the provider's session ends too.
      const { redirect } = await api<{ redirect: string }>('/auth/logout', { method: 'POST' })
      window.location.assign(redirect)
    },
  })
}
