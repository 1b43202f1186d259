// GAS development identity provider: a real OpenID Connect provider (npm oidc-provider) for the
// local stack and the integration tests. Authorization code (+ PKCE), RS256 id_tokens signed
// with a key persisted under GAS_IDP_DATA_DIR (so JWKS stays stable across restarts), userinfo,
// introspection, revocation and RP-initiated logout. Users come from users.json (or
// GAS_IDP_USERS_FILE); the login page is a plain HTML form (login + password). Consent is
// implied: the only client is the GAS gateway.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const port = Number(env.GAS_IDP_PORT ?? 8010);
const issuer = env.GAS_IDP_ISSUER ?? `http://127.0.0.1:${port}`;
const dataDir = path.resolve(env.GAS_IDP_DATA_DIR ?? path.join(here, '..', '..', '.local', 'idp'));
const usersFile = env.GAS_IDP_USERS_FILE ?? path.join(here, 'users.json');
const list = (value) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);

function log(msg, extra = {}) {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), service: 'idp', msg, ...extra })}\n`);
}

// The signing key and cookie keys are created once and kept: tokens issued before a restart
// still verify, and the gateway's cached JWKS stays right.
function persistentSecrets() {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'keys.json');
  if (existsSync(file)) {
    return JSON.parse(readFileSync(file, 'utf8'));
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const secrets = {
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }] },
    cookieKeys: [randomBytes(32).toString('hex')],
  };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  log('created a new signing key', { file });
  return secrets;
}

const users = JSON.parse(readFileSync(usersFile, 'utf8'));
const usersById = new Map(users.map((user) => [user.sub, user]));
const secrets = persistentSecrets();

const client = {
  client_id: env.GAS_IDP_CLIENT_ID ?? 'gas-gateway',
  client_secret: env.GAS_IDP_CLIENT_SECRET ?? 'gas-dev-client-secret',
  // "native" lets a loopback redirect URI match on any port (RFC 8252 §7.3), so a gateway on a
  // test's free port is accepted without re-registering the client.
  application_type: 'native',
  redirect_uris: list(env.GAS_IDP_REDIRECT_URIS ?? 'http://127.0.0.1:8000/auth/callback,http://localhost:8000/auth/callback'),
  post_logout_redirect_uris: list(env.GAS_IDP_POST_LOGOUT_REDIRECT_URIS ?? 'http://127.0.0.1:8000/,http://localhost:8000/'),
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  introspection_endpoint_auth_method: 'client_secret_basic',
  revocation_endpoint_auth_method: 'client_secret_basic',
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}</style>
</head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, error) {
  return page('GAS dev sign-in', `
${error ? `<p role="alert" class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" id="login">
  <label for="login-field">Login</label><input id="login-field" name="login" autocomplete="username" required autofocus>
  <label for="password-field">Password</label><input id="password-field" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
<p>Development users: ${users.map((user) => `<code>${escape(user.login)}</code>`).join(', ')}</p>`);
}

const provider = new Provider(issuer, {
  clients: [client],
  jwks: secrets.jwks,
  cookies: { keys: secrets.cookieKeys },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Sign out without a confirmation page; the gateway only sends users here on purpose.
      logoutSource: async (ctx, form) => {
        ctx.body = page('Signing out', `${form}<script>document.forms[0].submit()</script>
<noscript><button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></noscript>`);
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => {
    const user = usersById.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, email: user.email, email_verified: true, name: user.name }),
    };
  },
  ttl: { AccessToken: 3600, IdToken: 3600, Interaction: 600, Session: 86400, Grant: 86400 },
});

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantConsent(details, accountId) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  const missingClaims = details.prompt.details?.missingOIDCClaims;
  if (missingClaims) grant.addOIDCClaims(missingClaims);
  return grant.save();
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Sign-in expired', '<p>Start again from GAS.</p>'));
  if (details.prompt.name === 'login' && action === undefined && req.method === 'GET') {
    return send(res, 200, loginPage(uid));
  }
  if (details.prompt.name === 'login' && action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const user = users.find((candidate) => candidate.login === form.get('login'));
    if (!user || user.password !== form.get('password')) {
      log('sign-in refused', { login: form.get('login') });
      return send(res, 401, loginPage(uid, 'Wrong login or password.'));
    }
    const grantId = await grantConsent(details, user.sub);
    log('signed in', { sub: user.sub });
    return provider.interactionFinished(req, res, { login: { accountId: user.sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'consent') {
    const grantId = await grantConsent(details, details.session.accountId);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Unexpected step', `<p>${escape(details.prompt.name)}</p>`));
}

const oidc = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login))?\/?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) return oidc(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    log('interaction failed', { error: String(error) });
    if (!res.headersSent) send(res, 400, page('Sign-in failed', `<p>${escape(error.message ?? error)}</p><p>Start again from GAS.</p>`));
  }
});

provider.on('server_error', (ctx, error) => log('server error', { error: String(error) }));
server.listen(port, '127.0.0.1', () => log('listening', { issuer, port, users: users.length }));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
