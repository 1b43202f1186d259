// One way to call the gateway: same-origin cookies, the CSRF header on every unsafe call, and
// errors turned into sentences a person can act on (never raw JSON on a page).

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
export const CSRF_HEADER = 'X-CSRF-Token'

/** The double-submit token the gateway set at sign-in (gas_csrf, or __Host-gas_csrf on https). */
export function csrfToken(cookies: string = document.cookie): string | undefined {
  for (const part of cookies.split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === 'gas_csrf' || name === '__Host-gas_csrf') return decodeURIComponent(value.join('='))
  }
  return undefined
}

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
  get signedOut(): boolean {
    return this.status === 401
  }
}

const FALLBACK: Record<number, string> = {
  401: 'You are signed out. Sign in again to continue.',
  403: 'This was refused. Reload the page and try again.',
  404: 'Not found: it may have been removed, or belong to another account.',
  413: 'The file is larger than your account allows.',
  502: 'GAS is not answering right now. Try again in a minute.',
  503: 'GAS is not answering right now. Try again in a minute.',
  504: 'GAS took too long to answer. Try again in a minute.',
}

/** A readable sentence from an error body: FastAPI's {"detail": "..."} or its validation list. */
export function messageFrom(status: number, body: string): string {
  try {
    const parsed: unknown = JSON.parse(body)
    const detail = (parsed as { detail?: unknown } | null)?.detail
    if (typeof detail === 'string' && detail) return sentence(detail)
    if (Array.isArray(detail) && detail.length > 0) {
      return detail
        .map((item: { loc?: unknown[]; msg?: string }) => {
          const field = (item.loc ?? []).filter((part) => part !== 'body').join(' ')
          return sentence(field ? `${field}: ${item.msg ?? 'is not valid'}` : (item.msg ?? 'not valid'))
        })
        .join(' ')
    }
  } catch {
    const text = body.trim()
    if (text && !text.startsWith('<') && text.length < 300) return sentence(text)
  }
  return FALLBACK[status] ?? `Something went wrong (HTTP ${status}). Try again, or reload the page.`
}

function sentence(text: string): string {
  const trimmed = text.trim()
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1)
  return /[.!?)]$/.test(capital) ? capital : `${capital}.`
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const method = (init.method ?? 'GET').toUpperCase()
  const headers = new Headers(init.headers)
  headers.set('Accept', 'application/json')
  if (init.json !== undefined) headers.set('Content-Type', 'application/json')
  if (UNSAFE.has(method)) {
    const token = csrfToken()
    if (token) headers.set(CSRF_HEADER, token)
  }
  let response: Response
  try {
    response = await fetch(path, {
      ...init,
      method,
      headers,
      credentials: 'same-origin',
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    })
  } catch {
    throw new ApiError(0, 'GAS cannot be reached. Check your connection and try again.')
  }
  const text = await response.text()
  if (!response.ok) throw new ApiError(response.status, messageFrom(response.status, text))
  if (!text) return undefined as T
  const type = response.headers.get('content-type') ?? ''
  return (type.includes('json') ? JSON.parse(text) : text) as T
}
