// The /chat bundle (docs/ui.md, "Chat"). Kept light: Element Plus components are imported one
// by one where they are used (never the whole library), no ECharts; the first load of /chat is
// bounded by scripts/check-size.mjs. Everything real-time goes through the SDK (clients/js).
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { createHeraldI18n } from '../shared/i18n.js'
import messages from './locales.js'
import ChatApp from './ChatApp.vue'

const app = createApp(ChatApp)
app.use(createPinia())
app.use(createHeraldI18n(messages))
app.mount('#app')
