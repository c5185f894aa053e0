// The /chat state (Pinia): the conversations, each loaded conversation's messages, presence,
// typing, read receipts and the connection state; fed by the SDK's events (everything
// real-time goes through clients/js) and by REST pages (history, list, search).
//
// Message lists can be long (a conversation scrolled back through 10,000 messages): they are
// plain arrays outside Vue's reactivity, and a per-conversation version number tells the
// views to recompute. Only the rows on screen are rendered (VirtualList.vue).
import { defineStore } from 'pinia'
import { reactive, ref, computed, markRaw, nextTick } from 'vue'
import { uuid, mediaMessage } from '../../../clients/js/index.js'

const PAGE = 50
const TYPING_MS = 6000

export const useChat = defineStore('chat', () => {
  const me = ref(null)
  const convs = reactive({}) // id -> conversation (with my read state)
  const activeId = ref(null)
  const versions = reactive({}) // conversation id -> number, bumped on every list change
  const lists = markRaw(new Map()) // conversation id -> { items, hasMore, loading }
  const presence = reactive({}) // user id -> online
  const peerRead = reactive({}) // conversation id -> the highest seq another member read
  const typing = reactive({}) // conversation id -> { user_id, until }
  const conn = ref('connecting')
  const everOpen = ref(false)
  const quickReplies = ref([])
  const uploads = reactive([]) // { id, name, loaded, total, error }
  const notice = ref('') // the last error to show
  // the inbox's unread count: from the notification frames (the server sends the ones this
  // device has not ACKed at every connection), made exact by the inbox API once one came or
  // the inbox was opened
  const inboxUnread = ref(0)
  let inboxCounted = false
  const inboxItems = ref([])
  const focus = ref(null) // { conversationId, messageId }: a message to scroll to (a search hit)
  let rest = null
  let client = null
  let lastTyping = 0
  let visible = () => !document.hidden

  const ordered = computed(() =>
    Object.values(convs).sort((a, b) => (b.last_activity_at || 0) - (a.last_activity_at || 0)),
  )
  const unreadTotal = computed(() => ordered.value.reduce((n, c) => n + (c.unread_count || 0), 0))
  const active = computed(() => (activeId.value ? convs[activeId.value] || null : null))

  function list(id) {
    if (!lists.has(id)) lists.set(id, { items: [], hasMore: true, loading: false, loaded: false })
    return lists.get(id)
  }
  function bump(id) {
    versions[id] = (versions[id] || 0) + 1
  }

  function peerOf(c) {
    if (!c || !me.value) return null
    if (c.peer) return c.peer
    if (c.type === 'direct' && c.members) {
      const m = c.members.find((x) => x.user_id !== me.value.id)
      return m ? { id: m.user_id, name: m.name, avatar: m.avatar, metadata: m.metadata || {} } : null
    }
    return null
  }

  function titleOf(c) {
    if (!c) return ''
    if (c.name) return c.name
    const p = peerOf(c)
    if (p) return p.name || p.id
    return c.id
  }

  function upsertConv(c) {
    const old = convs[c.id] || {}
    const merged = { ...old, ...c }
    for (const k of ['read_seq', 'unread_count', 'last_message', 'peer']) {
      if (c[k] === undefined && old[k] !== undefined) merged[k] = old[k]
    }
    convs[c.id] = merged
    const p = peerOf(merged)
    if (p && p.online !== undefined && presence[p.id] === undefined) presence[p.id] = p.online
    else if (p && presence[p.id] === undefined && rest) {
      // a conversation that came by an event (no peer profile, no presence yet): ask once
      presence[p.id] = false
      rest
        .presence([p.id])
        .then((a) => {
          for (const x of a.results) presence[x.user_id] = x.online
        })
        .catch(() => {})
    }
  }

  function lastMessageOf(m) {
    return {
      id: m.id,
      seq: m.seq,
      sender_id: m.sender_id,
      type: m.type,
      preview: m.type === 'text' && !m.recalled ? String(m.content ?? '').slice(0, 100) : undefined,
      created_at: m.created_at,
      recalled: !!m.recalled,
    }
  }

  // ---- loading

  // every quick reply, page after page (at most 200 of the user's and 200 shared)
  async function loadQuickReplies() {
    const all = []
    for (let page = 1; page <= 4; page++) {
      const a = await rest.quickReplies({ page, page_size: 100 })
      all.push(...(a.results || []))
      if (all.length >= a.count || !(a.results || []).length) break
    }
    quickReplies.value = all
  }

  async function init(r, c, user) {
    rest = r
    client = c
    me.value = user
    wire()
    client.connect()
    await reloadConversations()
    loadQuickReplies().catch(() => {})
    setInterval(() => {
      const now = Date.now()
      for (const k of Object.keys(typing)) if (typing[k].until < now) delete typing[k]
    }, 1000)
    document.addEventListener('visibilitychange', () => {
      if (visible() && activeId.value) markRead(activeId.value)
    })
    window.addEventListener('online', () => client.reconnect())
  }

  const convCount = ref(0) // the server's count of my conversations
  let convPages = 0

  async function reloadConversations() {
    convPages = 0
    await moreConversations()
  }

  // the next page of the list (100 at a time, newest activity first)
  async function moreConversations() {
    const page = await rest.conversations({ page: convPages + 1, page_size: 100 })
    convPages += 1
    convCount.value = page.count
    for (const c of page.results) upsertConv(c)
    const ids = [...new Set(page.results.map((c) => peerOf(c)).filter(Boolean).map((p) => p.id))]
    if (ids.length) {
      rest
        .presence(ids.slice(0, 100))
        .then((a) => {
          for (const p of a.results) presence[p.user_id] = p.online
        })
        .catch(() => {})
    }
  }

  async function ensureConv(id) {
    if (convs[id]) return convs[id]
    upsertConv(await rest.conversation(id))
    return convs[id]
  }

  // the newest page, once per conversation (then kept current by the events). The open is
  // measured with performance marks (docs/ui.md, "Opening a long conversation"): herald:open
  // from the call (the click) to the frame after the newest rows are in the DOM.
  async function open(id) {
    const timed = typeof performance !== 'undefined' && performance.mark
    if (timed) {
      performance.clearMarks('herald:open-start')
      performance.mark('herald:open-start', { detail: { conversation: id } })
    }
    activeId.value = id
    const l = list(id)
    if (!l.loaded && !l.loading) {
      l.loading = true
      try {
        const page = await rest.messages(id, { limit: PAGE })
        const known = new Set(l.items.map((m) => m.id))
        const older = page.results.filter((m) => !known.has(m.id)).reverse()
        l.items = older.concat(l.items) // live ones that came during the load stay
        l.items.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity) || a.created_at - b.created_at)
        l.hasMore = page.has_more
        l.loaded = true
      } finally {
        l.loading = false
        bump(id)
      }
    }
    if (timed) openRendered(id)
    markRead(id)
  }

  // after Vue has rendered the pane's rows (nextTick) and the browser has laid out and painted
  // that frame (a task after the animation frame): the end of herald:open
  function openRendered(id) {
    nextTick(() =>
      requestAnimationFrame(() =>
        setTimeout(() => {
          if (activeId.value !== id) return
          performance.mark('herald:open-end', { detail: { conversation: id } })
          performance.clearMeasures('herald:open')
          performance.measure('herald:open', { start: 'herald:open-start', end: 'herald:open-end', detail: { conversation: id } })
        }, 0),
      ),
    )
  }

  async function loadOlder(id) {
    const l = list(id)
    if (!l.loaded || l.loading || !l.hasMore) return
    const first = l.items.find((m) => m.seq)
    if (!first) return
    l.loading = true
    try {
      const page = await rest.messages(id, { before_seq: first.seq, limit: PAGE })
      l.items = page.results.reverse().concat(l.items)
      l.hasMore = page.has_more
    } finally {
      l.loading = false
      bump(id)
    }
  }

  // Opens a conversation at one of its messages (a search hit): older pages are loaded until
  // it is in the list (at most 40 pages, 2,000 messages), then the pane scrolls to it.
  async function reveal(id, message) {
    await ensureConv(id)
    await open(id)
    const l = list(id)
    for (let n = 0; n < 40 && l.hasMore; n++) {
      const first = l.items.find((m) => m.seq)
      if (!first || first.seq <= message.seq) break
      await loadOlder(id)
    }
    focus.value = { conversationId: id, messageId: message.id, at: Date.now() }
  }

  async function openWith(peer) {
    const c = await rest.direct(peer)
    upsertConv(c)
    await open(c.id)
    return c.id
  }

  // ---- events from the SDK

  function wire() {
    client.on('state', (f) => {
      conn.value = f.state
      if (f.state === 'open') everOpen.value = true
    })
    client.on('message.new', (f) => onMessage(f.message))
    client.on('message.updated', (f) => onUpdated(f.message))
    client.on('conversation.updated', (f) => {
      const c = f.conversation
      // `removed` sits beside `conversation` (docs/protocol.md): the users who left or were
      // removed; for this user the conversation goes, whether this frame comes before or
      // after the answer to its own leave
      if (Array.isArray(f.removed) && me.value && f.removed.includes(me.value.id)) {
        delete convs[c.id]
        if (activeId.value === c.id) activeId.value = null
        return
      }
      upsertConv(c)
    })
    client.on('read', (f) => {
      if (me.value && f.user_id === me.value.id) {
        const c = convs[f.conversation_id]
        if (c && f.seq > (c.read_seq || 0)) {
          c.read_seq = f.seq
          c.unread_count = Math.max(0, (c.last_seq || 0) - f.seq)
        }
      } else if (f.seq > (peerRead[f.conversation_id] || 0)) {
        peerRead[f.conversation_id] = f.seq
      }
    })
    client.on('typing', (f) => {
      if (me.value && f.user_id === me.value.id) return
      typing[f.conversation_id] = { user_id: f.user_id, until: Date.now() + TYPING_MS }
    })
    client.on('notification', (f) => {
      // delivered to this device (the server sends it again on the next connection until ACKed)
      client.ack(f.delivery_id)
      if (inboxItems.value.some((x) => x.id === f.delivery_id)) return
      const n = f.notification || {}
      inboxItems.value = [
        { id: f.delivery_id, type: n.type, title: n.title, content: n.content, data: n.data, created_at: f.created_at, read_at: null },
        ...inboxItems.value,
      ]
      inboxUnread.value += 1
      if (!inboxCounted) {
        inboxCounted = true
        rest
          .inboxUnread()
          // the older unread ones too; a frame that came while the count was on its way may be
          // missing from it, so a smaller answer never lowers what this page has counted
          .then((a) => (inboxUnread.value = Math.max(inboxUnread.value, a.unread)))
          .catch(() => {})
      }
      if (document.hidden && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
        try {
          new Notification(String(n.title || ''), { body: String(n.content || '').slice(0, 200), tag: f.delivery_id })
        } catch {
          /* not allowed here */
        }
      }
    })
    client.on('presence', (f) => {
      presence[f.user_id] = f.online
    })
    client.on('client.gap', () => {
      // retention no longer holds part of what was missed: reload over HTTP
      for (const [id, l] of lists) {
        l.loaded = false
        l.items = []
        l.hasMore = true
        bump(id)
      }
      reloadConversations().then(() => activeId.value && open(activeId.value))
    })
  }

  function insert(l, m) {
    // one copy per message: by id, or the local copy of my own send by client_msg_id
    let i = l.items.findIndex(
      (x) => x.id === m.id || (m.client_msg_id && x.client_msg_id === m.client_msg_id && x.sender_id === m.sender_id),
    )
    if (i >= 0) l.items[i] = { ...l.items[i], ...m, pending: false, failed: false }
    else l.items.push(m)
    sortItems(l)
  }

  function sortItems(l) {
    const last = l.items.length - 1
    if (last > 0 && l.items[last].seq && l.items[last - 1].seq && l.items[last - 1].seq < l.items[last].seq) return
    l.items.sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity) || a.created_at - b.created_at)
  }

  async function onMessage(m) {
    const id = m.conversation_id
    if (!convs[id]) {
      try {
        await ensureConv(id)
      } catch {
        return
      }
    }
    const c = convs[id]
    const l = list(id)
    if (l.loaded || l.loading) {
      insert(l, m)
      bump(id)
    }
    if (m.seq > (c.last_seq || 0)) {
      c.last_seq = m.seq
      c.last_message = lastMessageOf(m)
      c.last_activity_at = Math.max(c.last_activity_at || 0, m.created_at)
      const mine = me.value && m.sender_id === me.value.id
      if (mine) {
        c.read_seq = Math.max(c.read_seq || 0, m.seq)
      } else if (activeId.value === id && visible()) {
        markRead(id)
      } else {
        c.unread_count = (c.unread_count || 0) + 1
        notifyDesktop(c, m)
      }
    }
    if (typing[id] && typing[id].user_id === m.sender_id) delete typing[id]
  }

  function onUpdated(m) {
    const id = m.conversation_id
    const l = lists.get(id)
    if (l) {
      const i = l.items.findIndex((x) => x.id === m.id)
      if (i >= 0) {
        l.items[i] = { ...l.items[i], ...m }
        bump(id)
      }
      // replies quoting it show it recalled
      if (m.recalled) {
        let changed = false
        l.items = l.items.map((x) => {
          if (x.reply_to !== m.id || !x.reply_preview) return x
          changed = true
          return { ...x, reply_preview: { ...x.reply_preview, recalled: true, text: '' } }
        })
        if (changed) bump(id)
      }
    }
    const c = convs[id]
    if (c && c.last_message && c.last_message.id === m.id) c.last_message = lastMessageOf(m)
  }

  function notifyDesktop(c, m) {
    if (!document.hidden || typeof Notification === 'undefined') return
    if (Notification.permission !== 'granted') return
    try {
      const body = m.type === 'text' ? String(m.content ?? '').slice(0, 100) : `[${m.type}]`
      new Notification(titleOf(c), { body, tag: c.id })
    } catch {
      /* not allowed here */
    }
  }

  // ---- actions

  function markRead(id) {
    const c = convs[id]
    if (!c || !visible()) return
    const seq = c.last_seq || 0
    if (seq <= (c.read_seq || 0)) {
      c.unread_count = 0
      return
    }
    c.read_seq = seq
    c.unread_count = 0
    if (!client.sendLive({ type: 'read', conversation_id: id, seq })) {
      rest.markRead(id, seq).catch(() => {})
    }
  }

  function replyPreviewOf(id, replyTo) {
    if (!replyTo) return null
    const l = lists.get(id)
    const q = l && l.items.find((x) => x.id === replyTo)
    if (!q) return null
    return { sender_id: q.sender_id, type: q.type, text: q.type === 'text' ? String(q.content).slice(0, 100) : '', recalled: !!q.recalled }
  }

  // Sends and shows at once (pending); the SDK resends it after a reconnect with the same
  // client_msg_id, so it is stored once.
  async function send(id, { type = 'text', content, replyTo = null }) {
    const cid = uuid()
    const l = list(id)
    const local = {
      id: `local:${cid}`,
      client_msg_id: cid,
      conversation_id: id,
      sender_id: me.value.id,
      type,
      content,
      reply_to: replyTo,
      reply_preview: replyPreviewOf(id, replyTo),
      created_at: Date.now(),
      seq: null,
      recalled: false,
      pending: true,
    }
    l.items.push(local)
    bump(id)
    try {
      const ok = await client.send({ conversationId: id, type, content, clientMsgId: cid, replyTo })
      const i = l.items.findIndex((x) => x.client_msg_id === cid && x.sender_id === me.value.id)
      const done = { ...local, id: ok.id, seq: ok.seq, created_at: ok.created_at, pending: false }
      if (i >= 0) l.items[i] = done
      sortItems(l)
      bump(id)
      const c = convs[id]
      if (c && ok.seq > (c.last_seq || 0)) {
        c.last_seq = ok.seq
        c.read_seq = ok.seq
        c.last_message = lastMessageOf(done)
        c.last_activity_at = ok.created_at
      }
      return done
    } catch (e) {
      const i = l.items.findIndex((x) => x.client_msg_id === cid)
      if (i >= 0) l.items[i] = { ...l.items[i], pending: false, failed: e.code || 'error' }
      bump(id)
      notice.value = e.message
      throw e
    }
  }

  async function upload(id, file) {
    const u = reactive({ id: uuid(), name: file.name || 'file', loaded: 0, total: file.size || 0, error: null })
    uploads.push(u)
    try {
      const rec = await rest.upload(file, {
        onProgress: (loaded, total) => {
          u.loaded = loaded
          u.total = total
        },
      })
      uploads.splice(uploads.indexOf(u), 1)
      await send(id, mediaMessage(rec))
    } catch (e) {
      u.error = e.message || 'upload failed'
      setTimeout(() => {
        const i = uploads.indexOf(u)
        if (i >= 0) uploads.splice(i, 1)
      }, 8000)
    }
  }

  async function edit(m, content) {
    try {
      onUpdated(await rest.editMessage(m.id, content))
    } catch (e) {
      notice.value = e.message
    }
  }

  async function recall(m) {
    try {
      onUpdated(await rest.recall(m.id))
    } catch (e) {
      notice.value = e.message
    }
  }

  function sendTyping(id) {
    const now = Date.now()
    if (now - lastTyping < 2100) return // the server forwards one per 2 s anyway
    lastTyping = now
    client.typing(id)
  }

  async function createGroup(name, members) {
    const c = await rest.createConversation({ type: 'group', name, members })
    upsertConv(c)
    return c.id
  }

  async function createRoom(name) {
    const c = await rest.createConversation({ type: 'room', name })
    upsertConv(c)
    return c.id
  }

  function rooms() {
    return rest.rooms({ page_size: 100 })
  }

  async function joinRoom(id) {
    upsertConv(await rest.joinRoom(id))
    return id
  }

  async function invite(id, userIds) {
    upsertConv(await rest.addMembers(id, userIds))
  }

  async function leave(id) {
    await rest.leaveConversation(id)
    delete convs[id]
    if (activeId.value === id) activeId.value = null
  }

  async function loadInbox() {
    const page = await rest.inbox({ page_size: 50 })
    const live = inboxItems.value.filter((x) => !page.results.some((r) => r.id === x.id))
    inboxItems.value = [...live, ...page.results]
    inboxUnread.value = page.unread
    inboxCounted = true
  }

  async function readInbox(item) {
    if (item.read_at) return
    const a = await rest.inboxRead(item.id)
    inboxItems.value = inboxItems.value.map((x) => (x.id === item.id ? { ...x, read_at: a.read_at || Date.now() } : x))
    inboxUnread.value = Math.max(0, (inboxUnread.value || 1) - 1)
  }

  async function readAllInbox() {
    await rest.inboxReadAll()
    inboxItems.value = inboxItems.value.map((x) => (x.read_at ? x : { ...x, read_at: Date.now() }))
    inboxUnread.value = 0
  }

  function search(q, conversationId = null) {
    return rest.search(q, conversationId ? { conversation_id: conversationId, page_size: 50 } : { page_size: 50 })
  }

  return {
    me, convs, activeId, focus, reveal, inboxUnread, inboxItems, loadInbox, readInbox, readAllInbox, convCount, moreConversations, versions, lists, presence, peerRead, typing, conn, everOpen, quickReplies,
    uploads, notice, ordered, unreadTotal, active,
    list, peerOf, titleOf, init, reloadConversations, open, loadOlder, openWith, markRead, send,
    upload, edit, recall, sendTyping, search, ensureConv, createGroup, createRoom, rooms, joinRoom,
    invite, leave,
  }
})
