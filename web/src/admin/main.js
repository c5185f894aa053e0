// The console bundle: /login and /admin. Element Plus is installed whole here (the console
// uses most of it); ECharts is loaded by the dashboard view only.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus, { ElMessage } from 'element-plus'
import 'element-plus/dist/index.css'
import { createHeraldI18n } from '../shared/i18n.js'
import base from './locales.js'
import notify from './locales_notify.js'
import { router } from './router.js'
import App from './App.vue'
import './console.css'

const app = createApp(App)
app.use(createPinia())
// the notification screens bring their own strings (locales_notify.js)
const messages = {}
for (const code of Object.keys(base)) messages[code] = { ...base[code], ...notify[code] }
const i18n = createHeraldI18n(messages)
app.use(i18n)
app.use(ElementPlus)
app.use(router)
// a page's code that cannot be fetched (the server down or restarting): a message, and the
// console stays where it was; the preload's own error is left to the import that follows it
window.addEventListener('vite:preloadError', (e) => e.preventDefault())
router.onError(() => ElMessage.error({ message: i18n.global.t('common.pageLoadFailed'), grouping: true }))
app.mount('#app')
