// The product name and description (HERALD_APP_TITLE, HERALD_APP_DESCRIPTION): herald serve
// writes them, HTML-escaped, into index.html's <title> and <meta> when it loads the UI. Under
// `npm run dev` the placeholders stay, and the defaults below apply.
function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`)
  const v = el ? el.getAttribute('content') || '' : ''
  return v.startsWith('__HERALD_') ? '' : v
}

export const appTitle = meta('application-name') || 'Herald'
export const appDescription = meta('description')

// Sets document.title to "<page> · <app title>" (or the app title alone).
export function setPageTitle(page) {
  document.title = page ? `${page} · ${appTitle}` : appTitle
}
