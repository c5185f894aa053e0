// How the console shows chat messages and conversations: as text only (Vue escapes every
// interpolation; nothing here builds HTML).
export function messageText(m, t) {
  if (!m) return ''
  if (m.recalled) return t('monitor.recalled')
  if (m.type === 'text' && typeof m.content === 'string') return m.content
  if (m.type === 'image') return t('monitor.image')
  if (m.type === 'file') return t('monitor.file')
  if (m.type === 'system') return t('monitor.system') + ' ' + JSON.stringify(m.content)
  return typeof m.content === 'string' ? m.content : JSON.stringify(m.content)
}

export function memberNames(c) {
  if (!c) return ''
  if (Array.isArray(c.members)) return c.members.map((m) => m.name || m.user_id).join(', ')
  return ''
}

export function lastPreview(c) {
  const l = c && c.last_message
  if (!l) return ''
  return (l.sender_id ? l.sender_id + ': ' : '') + (l.recalled ? '—' : l.preview || '')
}
