import { createRouter, createWebHistory } from 'vue-router'
import { useAuth, api } from './auth.js'
import { PAGES } from './menu.js'

const views = {
  dashboard: () => import('./views/Dashboard.vue'),
  apps: () => import('./views/Apps.vue'),
  users: () => import('./views/Users.vue'),
  conversations: () => import('./views/Conversations.vue'),
  queue: () => import('./views/Queue.vue'),
  operators: () => import('./views/Operators.vue'),
  roles: () => import('./views/Roles.vue'),
  audit: () => import('./views/Audit.vue'),
  channels: () => import('./views/notify/Channels.vue'),
  types: () => import('./views/notify/MessageTypes.vue'),
  templates: () => import('./views/notify/Templates.vue'),
  subscriptions: () => import('./views/notify/Subscriptions.vue'),
  notifications: () => import('./views/notify/Notifications.vue'),
  deliveries: () => import('./views/notify/Deliveries.vue'),
  instances: () => import('./views/notify/Instances.vue'),
}

const children = PAGES.filter((p) => views[p.name]).map((p) => ({
  path: p.path,
  name: p.name,
  component: views[p.name],
  meta: { perm: p.perm },
}))
children.push({
  path: 'conversations/:id',
  name: 'monitor',
  component: () => import('./views/Monitor.vue'),
  meta: { perm: 'conversations:monitor' },
})
children.push({
  path: 'templates/:id',
  name: 'template',
  component: () => import('./views/notify/TemplateEditor.vue'),
  meta: { perm: 'notifications:read' },
})
children.push({
  path: 'notifications/:id',
  name: 'notification',
  component: () => import('./views/notify/NotificationDetail.vue'),
  meta: { perm: 'notifications:read' },
})
children.push({ path: ':rest(.*)*', name: 'notfound', component: () => import('./views/NotFound.vue') })

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/Login.vue') },
    { path: '/admin', component: () => import('./views/Layout.vue'), children },
    { path: '/:rest(.*)*', redirect: '/admin' },
  ],
})

router.beforeEach(async (to) => {
  if (to.name === 'login') return true
  const auth = useAuth()
  if (!api.token) return { name: 'login', query: { next: to.fullPath } }
  if (!auth.me) {
    try {
      await auth.load()
    } catch {
      auth.clear()
      return { name: 'login', query: { next: to.fullPath } }
    }
  }
  // a page whose permission the operator lacks: the dashboard (the API would refuse anyway)
  if (to.meta.perm && !auth.can(to.meta.perm)) return { name: 'dashboard' }
  return true
})
