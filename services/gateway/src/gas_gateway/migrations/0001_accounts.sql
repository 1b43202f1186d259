-- Accounts, API tokens, browser sessions, pending logins and the event outbox.
CREATE TABLE users (
    id          uuid PRIMARY KEY,
    issuer      text,
    subject     text,
    email       text NOT NULL,
    name        text NOT NULL DEFAULT '',
    tier        text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'premium')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    upgraded_at timestamptz,
    CONSTRAINT users_identity_complete CHECK ((issuer IS NULL) = (subject IS NULL))
);
CREATE UNIQUE INDEX users_identity ON users (issuer, subject);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at);

-- The browser holds only the session id; the row is found by its SHA-256 so a database
-- read does not hand out live sessions. OIDC tokens stay here, server-side.
CREATE TABLE sessions (
    id_hash       bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    id_token      text,
    access_token  text,
    refresh_token text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- One row per login in progress: state, nonce and the PKCE verifier never reach the browser.
CREATE TABLE login_requests (
    state         text PRIMARY KEY,
    nonce         text NOT NULL,
    code_verifier text,
    return_to     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Events are written in the same transaction as the change they announce and published
-- afterwards, so a committed upgrade always reaches the archiver.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    event        jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
