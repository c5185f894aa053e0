// The /chat bundle (helper B2 fills it: see web/src/chat/README.md). Keep it light: import
// Element Plus components one by one (never the whole library) and no ECharts — the first
// load of /chat is bounded by scripts/check-size.mjs.
import { createApp } from 'vue'
import { createHeraldI18n } from '../shared/i18n.js'
import messages from './locales.js'
import ChatApp from './ChatApp.vue'

const app = createApp(ChatApp)
app.use(createHeraldI18n(messages))
app.mount('#app')
