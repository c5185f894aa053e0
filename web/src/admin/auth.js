// The signed-in operator: its token (sessionStorage "herald.operator", via shared/api.js),
// its profile and permissions from GET /admin/auth/me.
import { defineStore } from 'pinia'
import { createApi } from '../shared/api.js'

export const api = createApi({
  storageKey: 'herald.operator',
  onUnauthorized: () => {
    const s = useAuth()
    s.clear()
    if (!window.location.pathname.startsWith('/login')) {
      const next = window.location.pathname + window.location.search
      window.location.assign('/login?next=' + encodeURIComponent(next))
    }
  },
})

export const useAuth = defineStore('auth', {
  state: () => ({ me: null }),
  getters: {
    signedIn: () => !!api.token,
    permissions: (s) => (s.me && s.me.permissions) || [],
  },
  actions: {
    // p: a permission, or an array of alternatives (any of them)
    can(p) {
      const ps = this.permissions
      if (Array.isArray(p)) return p.some((x) => ps.includes('*') || ps.includes(x))
      return ps.includes('*') || ps.includes(p)
    },
    async login(username, password) {
      const r = await api.request('POST', '/admin/auth/login', {
        body: { username, password },
        auth: false,
      })
      api.setToken(r.access_token)
      await this.load()
    },
    async load() {
      this.me = await api.get('/admin/auth/me')
      return this.me
    },
    clear() {
      api.setToken(null)
      this.me = null
    },
    // ends the operator's console tokens on the server (every browser), then here
    async logout() {
      try {
        await api.post('/admin/auth/logout')
      } catch {
        // signed out here whatever the server answered
      }
      this.clear()
    },
  },
})
