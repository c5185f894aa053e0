// Writes a gzipped twin "<file>.gz" of every JavaScript, CSS, SVG and JSON file of dist that
// gzip makes smaller; herald serves it (Content-Encoding: gzip, Vary: Accept-Encoding) to
// clients that accept gzip (docs/ui.md, "Compression"). HTML is left alone: herald fills
// index.html's branding placeholders when it loads it.
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')
const KINDS = /\.(js|mjs|css|svg|json|map|txt)$/

let before = 0
let after = 0
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (KINDS.test(name)) {
      const raw = readFileSync(p)
      const gz = gzipSync(raw, { level: 9 })
      if (gz.length < raw.length) {
        writeFileSync(p + '.gz', gz)
        before += raw.length
        after += gz.length
      }
    }
  }
}
walk(dist)
console.log(`compress: ${(before / 1024).toFixed(0)} KB → ${(after / 1024).toFixed(0)} KB gzipped twins`)
