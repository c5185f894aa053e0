// Text helpers of the /chat screens. Nothing here builds HTML: user text is split into parts
// (plain text, links, highlights) that the templates render as text nodes, so a message that
// contains HTML or a `javascript:` link shows as text (docs/ui.md, "Chat: escaping").

// Only http(s) URLs become links; anything else (javascript:, data:, vbscript:) stays text.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi

export function safeHref(url) {
  if (!url) return null
  try {
    const u = new URL(url, window.location.href)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}

// "see https://x.io/a." → [{text:'see '}, {href:'https://x.io/a', text:'https://x.io/a'}, {text:'.'}]
export function linkParts(text) {
  const s = String(text ?? '')
  const out = []
  let last = 0
  for (const m of s.matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)\]}。，！？]+$/, '')
    const href = safeHref(url)
    if (!href) continue
    if (m.index > last) out.push({ text: s.slice(last, m.index) })
    out.push({ text: url, href })
    last = m.index + url.length
  }
  if (last < s.length) out.push({ text: s.slice(last) })
  return out
}

const ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'", '&#x27;': "'" }
const unescape = (s) => s.replace(/&(?:lt|gt|amp|quot|#39|#x27);/g, (e) => ENTITIES[e])

// The search API's highlight: HTML-escaped text with <mark>…</mark> around the matches.
// → [{text, mark}] to render as text, never as HTML.
export function highlightParts(html) {
  const out = []
  const s = String(html ?? '')
  const re = /<mark>([\s\S]*?)<\/mark>/g
  let last = 0
  for (const m of s.matchAll(re)) {
    if (m.index > last) out.push({ text: unescape(s.slice(last, m.index)), mark: false })
    out.push({ text: unescape(m[1]), mark: true })
    last = m.index + m[0].length
  }
  if (last < s.length) out.push({ text: unescape(s.slice(last)), mark: false })
  return out
}

// The last-message preview of the conversation list, the media kinds as [图片]/[文件] (zh-CN)
// or [Image]/[File].
export function previewOf(m, t) {
  if (!m) return ''
  if (m.recalled) return t('chat.recalled')
  switch (m.type) {
    case 'text':
      return m.preview !== undefined ? m.preview : String(m.content ?? '').slice(0, 100)
    case 'image':
      return t('chat.kind.image')
    case 'file':
      return t('chat.kind.file')
    case 'audio':
      return t('chat.kind.audio')
    case 'video':
      return t('chat.kind.video')
    case 'system':
      return t('chat.kind.system')
    default:
      return t('chat.kind.custom')
  }
}

export function dayKey(ms) {
  const d = new Date(ms)
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`
}

export function dayLabel(ms, locale, t) {
  const d = new Date(ms)
  const today = new Date()
  const yesterday = new Date(Date.now() - 86400000)
  if (dayKey(ms) === dayKey(today.getTime())) return t('chat.today')
  if (dayKey(ms) === dayKey(yesterday.getTime())) return t('chat.yesterday')
  return d.toLocaleDateString(locale, { year: 'numeric', month: 'short', day: 'numeric' })
}

export function timeLabel(ms, locale) {
  return new Date(ms).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })
}

export function sizeLabel(n) {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

// The thumbnail the server makes of an uploaded image: "<name>_thumb.png" for a PNG,
// "<name>_thumb.jpg" for the others, next to it (docs/uploads.md). It may be absent (the
// template falls back to the image itself on error).
export function thumbnailOf(url) {
  const m = /^(.*\/media\/uploads\/.+)\.(png|jpe?g|gif|webp)$/i.exec(url || '')
  if (!m) return url
  return `${m[1]}_thumb.${m[2].toLowerCase() === 'png' ? 'png' : 'jpg'}`
}

// A display box for an image of w×h within max×max.
export function fitBox(w, h, max = 240) {
  if (!w || !h) return { width: max, height: Math.round(max * 0.75) }
  const k = Math.min(1, max / Math.max(w, h))
  return { width: Math.max(40, Math.round(w * k)), height: Math.max(40, Math.round(h * k)) }
}
