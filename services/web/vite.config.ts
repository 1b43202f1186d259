/// <reference types="vitest/config" />
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'

/** Swagger UI's files in the build, so the gateway's /api/docs works without any CDN. */
function swaggerUi(): Plugin {
  const folder = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  return {
    name: 'gas-swagger-ui',
    apply: 'build',
    generateBundle() {
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        this.emitFile({ type: 'asset', fileName: `swagger-ui/${file}`, source: readFileSync(join(folder, file)) })
      }
    },
  }
}

// `npm run dev` serves the app with hot reload and sends the API, login and health routes to a
// running gateway (GAS_GATEWAY_URL, default the one `make dev` starts). The gateway checks the
// Origin of unsafe calls against its own, so the proxy presents that. Sign in once on the
// gateway's page: cookies are per host, not per port, so the session serves both.
const gateway = process.env.GAS_GATEWAY_URL ?? 'http://127.0.0.1:8000'
const proxied = ['/api', '/auth', '/healthz', '/readyz']

export default defineConfig({
  plugins: [react(), swaggerUi()],
  build: {
    // Everything the page needs comes from its own origin, as the gateway's CSP demands.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: gateway, headers: { origin: gateway } }])),
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['src/test-setup.ts'],
  },
})
