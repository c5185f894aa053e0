// Shared bits of the notification screens (docs/notifications.md): channel kinds, delivery
// states, time-range filters kept in the URL as milliseconds, JSON helpers.
import { computed } from 'vue'

export const KINDS = ['inapp', 'email', 'webhook', 'dingtalk', 'wecom', 'feishu', 'slack', 'sms_aliyun', 'wechat_mp']
// kinds a channel row can have (inapp exists for every app without a row)
export const CHANNEL_KINDS = KINDS.filter((k) => k !== 'inapp')
export const DELIVERY_STATES = ['pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'dead', 'cancelled', 'skipped', 'expired']
export const NOTIFICATION_STATES = ['queued', 'scheduled', 'cancelled']
export const PRIORITIES = ['normal', 'high', 'urgent']

export function stateType(s) {
  if (['sent', 'delivered', 'read', 'done'].includes(s)) return 'success'
  if (['failed', 'dead'].includes(s)) return 'danger'
  if (['pending', 'sending', 'scheduled', 'queued'].includes(s)) return 'warning'
  return 'info'
}

// filters.from / filters.to (strings of ms, '' for none) as the [start, end] of a datetime
// range picker (value-format "x": numbers of ms)
export function useRange(filters) {
  return computed({
    get: () => (filters.from && filters.to ? [Number(filters.from), Number(filters.to)] : null),
    set: (v) => {
      filters.from = v && v[0] !== undefined && v[0] !== null ? String(v[0]) : ''
      filters.to = v && v[1] !== undefined && v[1] !== null ? String(v[1]) : ''
    },
  })
}

export function pretty(v) {
  if (v === null || v === undefined) return ''
  try {
    return JSON.stringify(v, null, 2)
  } catch {
    return String(v)
  }
}

// The offset of the first syntax error of a JSON text (-1 when none): a small scanner, since
// browsers' JSON.parse messages do not all give a position.
function jsonErrorOffset(s) {
  let i = 0
  const ws = () => {
    while (i < s.length && ' \t\n\r'.includes(s[i])) i++
  }
  const fail = () => {
    throw i
  }
  function value() {
    ws()
    const c = s[i]
    if (c === '{') {
      i++
      ws()
      if (s[i] === '}') return i++
      for (;;) {
        ws()
        if (s[i] !== '"') fail()
        str()
        ws()
        if (s[i] !== ':') fail()
        i++
        value()
        ws()
        if (s[i] === ',') i++
        else if (s[i] === '}') return i++
        else fail()
      }
    }
    if (c === '[') {
      i++
      ws()
      if (s[i] === ']') return i++
      for (;;) {
        value()
        ws()
        if (s[i] === ',') i++
        else if (s[i] === ']') return i++
        else fail()
      }
    }
    if (c === '"') return str()
    for (const w of ['true', 'false', 'null']) if (s.startsWith(w, i)) return (i += w.length)
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i))
    if (m && m[0] && m[0] !== '-') return (i += m[0].length)
    fail()
  }
  function str() {
    i++
    while (i < s.length) {
      const c = s[i]
      if (c === '"') return i++
      if (c === '\\') {
        if (s[i + 1] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) fail()
          i += 6
        } else if ('"\\/bfnrt'.includes(s[i + 1])) i += 2
        else fail()
      } else if (c < ' ') fail()
      else i++
    }
    fail()
  }
  try {
    value()
    ws()
    return i < s.length ? i : -1
  } catch (at) {
    return typeof at === 'number' ? Math.min(at, s.length) : 0
  }
}

// JSON.parse with the position of a syntax error: {value} or {error, offset, line, column}
export function parseJson(text) {
  try {
    return { value: JSON.parse(text) }
  } catch (e) {
    const offset = Math.max(0, jsonErrorOffset(text))
    const before = text.slice(0, offset).split('\n')
    return { error: String(e.message || e).slice(0, 100), offset, line: before.length, column: before[before.length - 1].length + 1 }
  }
}

export const enc = encodeURIComponent
