// The one entry point: it loads the chat bundle on /chat and the console bundle (the login
// page and /admin) everywhere else. Each is its own chunk, so /chat never downloads Element
// Plus' full build or ECharts (scripts/check-size.mjs measures it).
const path = window.location.pathname
if (path === '/chat' || path.startsWith('/chat/')) {
  import('./chat/main.js')
} else {
  import('./admin/main.js')
}
