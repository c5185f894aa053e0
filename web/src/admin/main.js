// The console bundle: /login and /admin. Element Plus is installed whole here (the console
// uses most of it); ECharts is loaded by the dashboard view only.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus from 'element-plus'
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
app.use(createHeraldI18n(messages))
app.use(ElementPlus)
app.use(router)
app.mount('#app')
