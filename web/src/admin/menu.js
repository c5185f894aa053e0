// The console's pages: route name, path under /admin, menu label key, and the permission
// the menu item needs (null: every operator). The router refuses a page whose permission the
// operator lacks (the API refuses anyway). perm may be an array of alternatives (any one).
export const PAGES = [
  { name: 'dashboard', path: '', label: 'menu.dashboard', perm: null, icon: 'DataLine' },
  { name: 'apps', path: 'apps', label: 'menu.apps', perm: 'apps:read', icon: 'Grid' },
  { name: 'users', path: 'users', label: 'menu.users', perm: 'users:read', icon: 'User' },
  { name: 'conversations', path: 'conversations', label: 'menu.conversations', perm: 'conversations:monitor', icon: 'ChatDotRound' },
  { name: 'queue', path: 'queue', label: 'menu.queue', perm: 'conversations:monitor', icon: 'Headset' },
  { name: 'operators', path: 'operators', label: 'menu.operators', perm: 'operators:read', icon: 'Avatar' },
  { name: 'roles', path: 'roles', label: 'menu.roles', perm: 'operators:read', icon: 'Lock' },
  { name: 'channels', path: 'channels', label: 'menu.channels', perm: ['notifications:read', 'channels:write'], icon: 'Connection' },
  { name: 'types', path: 'message-types', label: 'menu.types', perm: 'notifications:read', icon: 'CollectionTag' },
  { name: 'templates', path: 'templates', label: 'menu.templates', perm: 'notifications:read', icon: 'EditPen' },
  { name: 'subscriptions', path: 'subscriptions', label: 'menu.subscriptions', perm: 'notifications:read', icon: 'Bell' },
  { name: 'notifications', path: 'notifications', label: 'menu.notifications', perm: 'notifications:read', icon: 'Message' },
  { name: 'deliveries', path: 'deliveries', label: 'menu.deliveries', perm: 'notifications:read', icon: 'Van' },
  { name: 'instances', path: 'instances', label: 'menu.instances', perm: ['notifications:read', 'stats:read'], icon: 'Monitor' },
  { name: 'audit', path: 'audit', label: 'menu.audit', perm: 'audit:read', icon: 'Document' },
]
