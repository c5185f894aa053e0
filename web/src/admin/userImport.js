// Parsing of a user import file in the browser (docs/ui.md, "Importing users"): CSV with a
// header row naming the columns, a JSON array, {"users":[...]}, or JSON lines. Every row
// becomes a POST /users object; the server validates it (errors name users[i].field).

export const IMPORT_MAX = 1000 // users per import (POST /admin/apps/{id}/users/import)

// RFC 4180 records: quoted fields may hold commas, "" and newlines. Returns arrays of cells.
export function parseCsv(text) {
  const rows = []
  let row = []
  let cell = ''
  let quoted = false
  let i = 0
  if (text.charCodeAt(0) === 0xfeff) i = 1 // a byte-order mark (spreadsheets write one)
  for (; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"'
          i++
        } else quoted = false
      } else cell += c
    } else if (c === '"' && cell === '') quoted = true
    else if (c === ',') {
      row.push(cell)
      cell = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(cell)
      cell = ''
      if (row.length > 1 || row[0] !== '') rows.push(row)
      row = []
    } else cell += c
  }
  if (quoted) throw new Error('unterminated quoted field')
  if (cell !== '' || row.length) {
    row.push(cell)
    if (row.length > 1 || row[0] !== '') rows.push(row)
  }
  return rows
}

const CONTACT_COLUMNS = ['email', 'phone', 'wechat_openid']

// One CSV record as a user object: empty cells are "not given"; disabled true/false/1/0;
// metadata JSON text (sent as text when it does not parse: the server names the field);
// email, phone, wechat_openid and contacts.<name> go into contacts.
function csvUser(header, cells) {
  const u = {}
  header.forEach((col, k) => {
    const v = cells[k] ?? ''
    if (v === '') return
    if (col === 'disabled') {
      const low = v.toLowerCase()
      u.disabled = low === 'true' || low === '1' ? true : low === 'false' || low === '0' ? false : v
    } else if (col === 'metadata') {
      try {
        u.metadata = JSON.parse(v)
      } catch {
        u.metadata = v
      }
    } else if (CONTACT_COLUMNS.includes(col) || col.startsWith('contacts.')) {
      u.contacts = u.contacts || {}
      u.contacts[col.startsWith('contacts.') ? col.slice(9) : col] = v
    } else u[col] = v
  })
  return u
}

// The users of a file's text: { users, columns } or throws an Error with a message to show.
export function parseImport(name, text) {
  const trimmed = text.replace(/^\ufeff/, '').trim()
  if (trimmed === '') throw new Error('empty')
  if (/\.json$/i.test(name) || trimmed[0] === '[' || (trimmed[0] === '{' && /^\{\s*"users"/.test(trimmed))) {
    const v = JSON.parse(trimmed)
    const users = Array.isArray(v) ? v : v && Array.isArray(v.users) ? v.users : null
    if (!users) throw new Error('a JSON array of users or {"users":[...]} is expected')
    return { users, columns: columnsOf(users) }
  }
  if (/\.jsonl$/i.test(name) || trimmed[0] === '{') {
    const users = trimmed
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        try {
          return JSON.parse(l)
        } catch (e) {
          throw new Error(`line ${i + 1}: ${e.message}`)
        }
      })
    return { users, columns: columnsOf(users) }
  }
  const rows = parseCsv(trimmed)
  if (rows.length < 2) throw new Error('a header row and at least one user are expected')
  const header = rows[0].map((h) => h.trim())
  if (!header.includes('id')) throw new Error('the header row has no id column')
  return { users: rows.slice(1).map((r) => csvUser(header, r)), columns: header }
}

function columnsOf(users) {
  const cols = []
  for (const u of users.slice(0, 50))
    if (u && typeof u === 'object') for (const k of Object.keys(u)) if (!cols.includes(k)) cols.push(k)
  return cols
}

// A cell of the preview table: strings as they are, objects as compact JSON, a password hidden.
export function previewCell(u, col) {
  if (!u || typeof u !== 'object') return ''
  if (col === 'password') return u.password ? '••••••' : ''
  let v = u[col]
  if (v === undefined && u.contacts && typeof u.contacts === 'object')
    v = u.contacts[col.startsWith('contacts.') ? col.slice(9) : col]
  if (v === undefined || v === null) return ''
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}
