import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, csrfToken, messageFrom } from './client'

afterEach(() => {
  vi.unstubAllGlobals()
  document.cookie = 'gas_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT'
})

describe('messageFrom', () => {
  it('turns the API error body into a sentence, never JSON', () => {
    expect(messageFrom(402, '{"detail":"the card was declined; use another card"}')).toBe(
      'The card was declined; use another card.',
    )
    expect(
      messageFrom(422, '{"detail":[{"loc":["body","card_number"],"msg":"String should have at least 12 characters"}]}'),
    ).toBe('Card_number: String should have at least 12 characters.')
    expect(messageFrom(502, '<html>bad gateway</html>')).toBe('GAS is not answering right now. Try again in a minute.')
    expect(messageFrom(418, '')).toContain('HTTP 418')
  })
})

describe('csrfToken', () => {
  it('reads the plain and the __Host- cookie', () => {
    expect(csrfToken('a=1; gas_csrf=abc%3D; b=2')).toBe('abc=')
    expect(csrfToken('__Host-gas_csrf=xyz')).toBe('xyz')
    expect(csrfToken('other=1')).toBeUndefined()
  })
})

describe('api', () => {
  it('sends the CSRF header on unsafe calls only, and raises readable errors', async () => {
    document.cookie = 'gas_csrf=token123'
    const seen: Headers[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_path: string, init: RequestInit) => {
        seen.push(new Headers(init.headers))
        return init.method === 'POST'
          ? new Response('{"detail":"already premium"}', { status: 409, headers: { 'content-type': 'application/json' } })
          : new Response('{"id":"u1"}', { status: 200, headers: { 'content-type': 'application/json' } })
      }),
    )
    await expect(api('/api/me')).resolves.toEqual({ id: 'u1' })
    const failure = api('/api/me/upgrade', { method: 'POST', json: { card_number: '4242' } })
    await expect(failure).rejects.toEqual(new ApiError(409, 'Already premium.'))
    expect(seen[0]?.get('X-CSRF-Token')).toBeNull()
    expect(seen[1]?.get('X-CSRF-Token')).toBe('token123')
    expect(seen[1]?.get('Content-Type')).toBe('application/json')
  })
})
