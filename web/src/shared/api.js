// A small fetch wrapper for Herald's HTTP API. The bearer token lives in memory and in
// sessionStorage (so a reload keeps the session of this tab, and closing the tab ends it);
// it never goes into a URL. Errors come back as ApiError with Herald's {code, message, field}.

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {}
    super(e.message || `HTTP ${status}`)
    this.status = status
    this.code = e.code || 'http_error'
    this.field = e.field || null
    this.position = e.position || null // a template syntax error's {offset, line, column}
    this.errors = Array.isArray(e.errors) ? e.errors : null // a user import's rows: [{field, message}]
    this.retryAfter = null
  }
}

export function createApi({ storageKey, onUnauthorized } = {}) {
  let token = null
  try {
    token = storageKey ? window.sessionStorage.getItem(storageKey) : null
  } catch {
    token = null
  }

  function setToken(t) {
    token = t || null
    if (!storageKey) return
    try {
      if (token) window.sessionStorage.setItem(storageKey, token)
      else window.sessionStorage.removeItem(storageKey)
    } catch {
      /* memory only */
    }
  }

  // query: an object; empty values ('' / null / undefined) are left out
  function url(path, query) {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query || {}))
      if (v !== '' && v !== null && v !== undefined) qs.append(k, String(v))
    const s = qs.toString()
    return '/api/v1' + path + (s ? '?' + s : '')
  }

  async function request(method, path, { query, body, auth = true } = {}) {
    const headers = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (auth && token) headers.Authorization = 'Bearer ' + token
    const res = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    })
    let data = null
    if (res.status !== 204) {
      const text = await res.text()
      if (text) {
        try {
          data = JSON.parse(text)
        } catch {
          data = null
        }
      }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data)
      err.retryAfter = res.headers.get('Retry-After')
      if (res.status === 401 && auth && onUnauthorized) onUnauthorized(err)
      throw err
    }
    return data
  }

  return {
    get token() {
      return token
    },
    setToken,
    request,
    get: (path, query) => request('GET', path, { query }),
    post: (path, body) => request('POST', path, { body: body === undefined ? {} : body }),
    patch: (path, body) => request('PATCH', path, { body }),
    del: (path) => request('DELETE', path),
  }
}
