/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// `npm run dev` serves the app with hot reload and sends the API, login and health routes to a
// running gateway (GAS_GATEWAY_URL, default the one `make dev` starts).
const gateway = process.env.GAS_GATEWAY_URL ?? 'http://127.0.0.1:8000'
const proxied = ['/api', '/auth', '/healthz', '/readyz']

export default defineConfig({
  plugins: [react()],
  build: {
    // Everything the page needs comes from its own origin, as the gateway's CSP demands.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: gateway, changeOrigin: false }])),
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['src/test-setup.ts'],
  },
})
