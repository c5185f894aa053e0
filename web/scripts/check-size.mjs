// Measures the JavaScript a first visit of /chat downloads — the entry chunk, the chat chunk
// and every chunk they import statically, gzipped — from Vite's manifest, and fails above
// the bound (docs/ui.md, "Bundle budget"). Prints the console's figure too, for information.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const LIMIT = Number(process.env.HERALD_CHAT_JS_LIMIT || 300 * 1024)
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')
const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'))

function closure(keys) {
  const seen = new Set()
  const stack = [...keys]
  while (stack.length) {
    const k = stack.pop()
    if (seen.has(k)) continue
    const e = manifest[k]
    if (!e) throw new Error(`check-size: ${k} is not in the manifest`)
    seen.add(k)
    for (const i of e.imports || []) stack.push(i)
  }
  return seen
}

function gzSize(keys) {
  let total = 0
  const files = []
  for (const k of keys) {
    const f = manifest[k].file
    if (!f.endsWith('.js')) continue
    const n = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length
    files.push([f, n])
    total += n
  }
  return { total, files }
}

const kb = (n) => (n / 1024).toFixed(1) + ' KB'
const chat = gzSize(closure(['index.html', 'src/chat/main.js']))
// the console's bundle is the entry's other dynamic import (Rollup may rename it)
const adminKeys = (manifest['index.html'].dynamicImports || []).filter((k) => k !== 'src/chat/main.js')
const admin = gzSize(closure(['index.html', ...adminKeys]))
console.log(`check-size: first load of /chat: ${kb(chat.total)} gzipped JS (bound ${kb(LIMIT)})`)
for (const [f, n] of chat.files.sort((a, b) => b[1] - a[1])) console.log(`  ${f} ${kb(n)}`)
console.log(`check-size: first load of /admin (information): ${kb(admin.total)} gzipped JS`)
if (chat.total > LIMIT) {
  console.error(`check-size: /chat loads ${kb(chat.total)} of JavaScript, over the ${kb(LIMIT)} bound`)
  process.exit(1)
}
