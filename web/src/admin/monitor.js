// The operator's read-only live socket (docs/service.md, "Live monitor"): the token goes in
// Sec-WebSocket-Protocol (herald.v1, bearer.<token>), never in the URL. Reconnects with
// back-off and jitter; the caller re-reads what it missed over HTTP (no sync for monitors).
export function openMonitor(token, { onFrame, onState }) {
  let ws = null
  let stopped = false
  let attempt = 0
  let timer = null

  function connect() {
    if (stopped) return
    onState('connecting')
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
    ws = new WebSocket(`${proto}//${window.location.host}/ws`, ['herald.v1', 'bearer.' + token])
    ws.onopen = () => {
      attempt = 0
    }
    ws.onmessage = (ev) => {
      let f
      try {
        f = JSON.parse(ev.data)
      } catch {
        return
      }
      if (f.type === 'hello') onState('live', f)
      onFrame(f)
    }
    ws.onclose = (ev) => {
      ws = null
      if (stopped) return
      if (ev.code === 4001 || ev.code === 1008) {
        // rights taken away or token refused: try once more later, the token may still be good
        onState('closed')
      } else onState('reconnecting')
      const delay = Math.min(30000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2)
      timer = setTimeout(connect, delay)
    }
  }

  connect()
  return {
    close() {
      stopped = true
      clearTimeout(timer)
      if (ws) ws.close(1000)
    },
  }
}
