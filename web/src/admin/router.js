import { createRouter, createWebHistory } from 'vue-router'
import { useAuth, api } from './auth.js'
import { PAGES } from './menu.js'

const views = {
  dashboard: () => import('./views/Dashboard.vue'),
}

const children = PAGES.filter((p) => views[p.name]).map((p) => ({
  path: p.path,
  name: p.name,
  component: views[p.name],
  meta: { perm: p.perm, label: p.label },
}))

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/admin' },
    { path: '/login', name: 'login', component: () => import('./views/Login.vue') },
    { path: '/admin', component: () => import('./views/Layout.vue'), children },
    { path: '/admin/:rest(.*)*', name: 'notfound', component: () => import('./views/NotFound.vue') },
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
  if (to.meta.perm && !auth.can(to.meta.perm)) return { name: 'dashboard' }
  return true
})
