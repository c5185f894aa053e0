// The console's pages: route name, path under /admin, menu label key, and the permission
// the menu item needs (null: every operator). The router refuses a page whose permission the
// operator lacks (the API refuses anyway).
export const PAGES = [
  { name: 'dashboard', path: '', label: 'menu.dashboard', perm: null, icon: 'DataLine' },
  { name: 'apps', path: 'apps', label: 'menu.apps', perm: 'apps:read', icon: 'Grid' },
  { name: 'users', path: 'users', label: 'menu.users', perm: 'users:read', icon: 'User' },
  { name: 'conversations', path: 'conversations', label: 'menu.conversations', perm: 'conversations:monitor', icon: 'ChatDotRound' },
  { name: 'queue', path: 'queue', label: 'menu.queue', perm: 'conversations:monitor', icon: 'Headset' },
  { name: 'operators', path: 'operators', label: 'menu.operators', perm: 'operators:read', icon: 'Avatar' },
  { name: 'roles', path: 'roles', label: 'menu.roles', perm: 'operators:read', icon: 'Lock' },
  { name: 'audit', path: 'audit', label: 'menu.audit', perm: 'audit:read', icon: 'Document' },
]
