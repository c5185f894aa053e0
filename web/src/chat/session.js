// Who the /chat user is, from the three sign-in modes (docs/ui.md, "Chat sign-in"):
//   ?token=<access token>   a token minted by the business system; kept in sessionStorage and
//                           removed from the address bar at once (never left in a URL);
//   username / password     S4's register and login (POST /api/v1/auth/login, /register);
//                           the access and refresh tokens kept in sessionStorage;
//   ?user_id=b1&target=m1   demo mode (HERALD_DEMO=1), S3's quick links.
// Tokens live in this tab only (sessionStorage): closing the tab signs out.
import { HeraldClient, HeraldRest } from '../../../clients/js/index.js'

const KEY = 'herald.chat.session'

function load() {
  try {
    return JSON.parse(window.sessionStorage.getItem(KEY) || 'null')
  } catch {
    return null
  }
}

function save(s) {
  try {
    if (s) window.sessionStorage.setItem(KEY, JSON.stringify(s))
    else window.sessionStorage.removeItem(KEY)
  } catch {
    /* memory only */
  }
}

// Reads the address bar once: a ?token= is moved into sessionStorage and removed from the URL.
// Returns { mode: 'token' | 'demo' | 'none', target, userId? }.
export function readLocation() {
  const url = new URL(window.location.href)
  const p = url.searchParams
  const target = p.get('target') || null
  const token = p.get('token')
  if (token) {
    save({ access: token, refresh: null, exp: 0, fromLink: true })
    p.delete('token')
    window.history.replaceState(null, '', url.pathname + (p.toString() ? `?${p}` : '') + url.hash)
  }
  const userId = p.get('user_id')
  if (userId) return { mode: 'demo', userId, target }
  const s = load()
  if (s && s.access) return { mode: 'token', target, fromLink: !!s.fromLink }
  return { mode: 'none', target }
}

export function signOut() {
  save(null)
}

// The answer of /auth/login or /auth/register, kept for this tab.
export function keepLogin(answer) {
  save({
    access: answer.access_token,
    refresh: answer.refresh_token || null,
    exp: answer.expires_in ? Date.now() + answer.expires_in * 1000 : 0,
    fromLink: false,
  })
}

// The REST helper and the real-time client of this session.
export function connect({ mode, userId }) {
  const plain = new HeraldRest({})
  let refreshing = null
  // a fresh access token: refreshed (once at a time) when it is about to expire
  async function token() {
    const s = load()
    if (!s) return null
    if (!s.refresh || !s.exp || s.exp - Date.now() > 60000) return s.access
    if (!refreshing) {
      refreshing = plain
        .refresh(s.refresh)
        .then((a) => keepLogin(a))
        .catch(() => null)
        .finally(() => {
          refreshing = null
        })
    }
    await refreshing
    const n = load()
    return n ? n.access : null
  }
  const demo = mode === 'demo'
  const rest = demo ? new HeraldRest({ userId }) : new HeraldRest({ token })
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
  const client = new HeraldClient({
    url: `${scheme}://${window.location.host}/ws`,
    token: demo ? null : token,
    userId: demo ? userId : null,
    backoffInitialMs: 500,
    backoffMaxMs: 15000,
  })
  return { rest, client }
}

export const plainRest = () => new HeraldRest({})
