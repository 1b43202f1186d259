// Fails the build when the JavaScript index.html loads first grows past the budget (gzipped).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const BUDGET_BYTES = 300 * 1024
const dist = new URL('../dist/', import.meta.url).pathname
const html = readFileSync(join(dist, 'index.html'), 'utf8')
const scripts = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1])
const total = scripts.reduce((sum, file) => sum + gzipSync(readFileSync(join(dist, file))).length, 0)
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`
console.log(`initial JavaScript: ${kib(total)} gzipped (${scripts.join(', ')}); budget ${kib(BUDGET_BYTES)}`)
if (scripts.length === 0 || total > BUDGET_BYTES) {
  console.error('check-size: the initial JavaScript is over budget (or none was found in index.html)')
  process.exit(1)
}
