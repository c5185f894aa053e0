// The console bundle: /login and /admin. Element Plus is installed whole here (the console
// uses most of it); ECharts is loaded by the dashboard view only.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus from 'element-plus'
import 'element-plus/dist/index.css'
import { createHeraldI18n } from '../shared/i18n.js'
import messages from './locales.js'
import { router } from './router.js'
import App from './App.vue'
import './console.css'

const app = createApp(App)
app.use(createPinia())
app.use(createHeraldI18n(messages))
app.use(ElementPlus)
app.use(router)
app.mount('#app')
