import { useEffect, useState, type FormEvent } from 'react'
import { useLocation } from 'react-router'
import { useCreateToken, useRevokeToken, useSignOut, useTokens, useUpgrade } from '../api/hooks'
import type { ApiTokenCreated, User } from '../api/types'
import { ErrorMessage, Loading, usePageTitle } from '../common/Feedback'
import { formatDateTime } from '../common/format'
import { TierBadge } from './TierBadge'

export function AccountPage({ user }: { user: User }) {
  usePageTitle('Your account')
  const signOut = useSignOut()
  return (
    <>
      <h1>Your account</h1>
      <section className="card mb-4" aria-labelledby="profile-heading">
        <div className="card-body">
          <h2 className="h5" id="profile-heading">
            {user.name || user.email}
          </h2>
          <dl className="row mb-0">
            <dt className="col-sm-3">Email</dt>
            <dd className="col-sm-9">{user.email}</dd>
            <dt className="col-sm-3">Tier</dt>
            <dd className="col-sm-9" data-testid="tier">
              <TierBadge tier={user.tier} />
              {user.upgraded_at && <span className="ms-2 text-body-secondary">since {formatDateTime(user.upgraded_at)}</span>}
            </dd>
            <dt className="col-sm-3">Member since</dt>
            <dd className="col-sm-9">{formatDateTime(user.created_at)}</dd>
          </dl>
        </div>
      </section>
      {user.tier === 'free' && <UpgradeForm />}
      <Tokens />
      <section className="mb-4" aria-labelledby="signout-heading">
        <h2 className="h5" id="signout-heading">
          Sign out
        </h2>
        <p>Signs you out of GAS and of the identity provider on this browser.</p>
        <button type="button" className="btn btn-outline-danger" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
          Sign out
        </button>
        {signOut.isError && (
          <div className="mt-2">
            <ErrorMessage error={signOut.error} />
          </div>
        )}
      </section>
    </>
  )
}

function UpgradeForm() {
  const upgrade = useUpgrade()
  const [card, setCard] = useState('')
  const { hash } = useLocation()
  useEffect(() => {
    if (hash === '#upgrade') document.getElementById('card-number')?.focus()
  }, [hash])
  const submit = (event: FormEvent) => {
    event.preventDefault()
    upgrade.mutate(card)
  }
  return (
    <section className="card border-success mb-4" id="upgrade" aria-labelledby="upgrade-heading">
      <div className="card-body">
        <h2 className="h5" id="upgrade-heading">
          Upgrade to premium
        </h2>
        <p>
          Premium annotates files of any size and keeps your results available. Upgrading also restores every result
          already moved to cold storage.
        </p>
        <form onSubmit={submit} className="row g-2 align-items-end" noValidate>
          <div className="col-sm-6 col-lg-4">
            <label htmlFor="card-number" className="form-label">
              Card number
            </label>
            <input
              id="card-number"
              className={`form-control ${upgrade.isError ? 'is-invalid' : ''}`}
              inputMode="numeric"
              autoComplete="cc-number"
              value={card}
              onChange={(event) => setCard(event.target.value)}
              aria-describedby="card-help"
              required
            />
          </div>
          <div className="col-auto">
            <button type="submit" className="btn btn-success" disabled={upgrade.isPending || card.trim() === ''}>
              {upgrade.isPending ? 'Upgrading…' : 'Upgrade'}
            </button>
          </div>
          <div id="card-help" className="form-text col-12">
            Test mode: the card 4242 4242 4242 4242 is accepted and 4000 0000 0000 0002 is declined. No real card is
            charged.
          </div>
        </form>
        {upgrade.isError && (
          <div className="mt-3">
            <ErrorMessage error={upgrade.error} action={<p className="mb-0">Check the card number and try again.</p>} />
          </div>
        )}
      </div>
    </section>
  )
}

function Tokens() {
  const tokens = useTokens()
  const create = useCreateToken()
  const revoke = useRevokeToken()
  const [name, setName] = useState('')
  const [created, setCreated] = useState<ApiTokenCreated | null>(null)
  const submit = (event: FormEvent) => {
    event.preventDefault()
    create.mutate(name.trim(), {
      onSuccess: (token) => {
        setCreated(token)
        setName('')
      },
    })
  }
  return (
    <section className="mb-4" aria-labelledby="tokens-heading">
      <h2 className="h5" id="tokens-heading">
        API tokens
      </h2>
      <p>
        For scripts and the <code>gas</code> command line: <code>gas configure --url {window.location.origin} --token
        TOKEN</code>. A token acts as you; revoke it when it is no longer needed.
      </p>
      <form onSubmit={submit} className="row g-2 align-items-end mb-3">
        <div className="col-sm-6 col-lg-4">
          <label htmlFor="token-name" className="form-label">
            Token name
          </label>
          <input
            id="token-name"
            className="form-control"
            value={name}
            maxLength={100}
            placeholder="laptop"
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="col-auto">
          <button type="submit" className="btn btn-primary" disabled={create.isPending || name.trim() === ''}>
            Create token
          </button>
        </div>
      </form>
      {create.isError && <ErrorMessage error={create.error} />}
      {created && (
        <div className="alert alert-success" role="status">
          <p className="mb-1">
            Token <strong>{created.name}</strong> created. Copy it now: it is shown this once.
          </p>
          <code className="d-block text-break user-select-all p-2 bg-body rounded" aria-label="New token">
            {created.token}
          </code>
          <button type="button" className="btn btn-sm btn-success mt-2" onClick={() => setCreated(null)}>
            I have stored it
          </button>
        </div>
      )}
      {tokens.isPending ? (
        <Loading what="your tokens" />
      ) : tokens.isError ? (
        <ErrorMessage error={tokens.error} />
      ) : tokens.data.count === 0 ? (
        <p className="text-body-secondary">You have no API tokens.</p>
      ) : (
        <div className="table-responsive">
          <table className="table align-middle">
            <caption className="visually-hidden">Your API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Starts with</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">State</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.data.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td>
                  <td>
                    <code>gas_{token.prefix}_…</code>
                  </td>
                  <td>{formatDateTime(token.created_at)}</td>
                  <td>{token.last_used_at ? formatDateTime(token.last_used_at) : 'never'}</td>
                  <td className="text-end">
                    {token.revoked_at ? (
                      <span className="text-body-secondary">Revoked {formatDateTime(token.revoked_at)}</span>
                    ) : (
                      <button
                        type="button"
                        className="btn btn-sm btn-outline-danger"
                        aria-label={`Revoke token ${token.name}`}
                        disabled={revoke.isPending}
                        onClick={() => revoke.mutate(token.id)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoke.isError && <ErrorMessage error={revoke.error} />}
    </section>
  )
}
