// zh-CN and English. The first visit follows the browser (navigator.languages); a choice made
// with the language switch is kept in localStorage ("herald.locale") and wins afterwards.
import { createI18n } from 'vue-i18n'

export const LOCALES = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '简体中文' },
]
const KEY = 'herald.locale'

export function detectLocale() {
  let saved = null
  try {
    saved = window.localStorage.getItem(KEY)
  } catch {
    /* storage disabled: follow the browser */
  }
  if (saved && LOCALES.some((l) => l.code === saved)) return saved
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en']
  for (const l of langs) {
    const low = String(l).toLowerCase()
    if (low.startsWith('zh')) return 'zh-CN'
    if (low.startsWith('en')) return 'en'
  }
  return 'en'
}

// messages: {en: {...}, 'zh-CN': {...}}; each bundle (chat, console) brings its own.
export function createHeraldI18n(messages) {
  const locale = detectLocale()
  document.documentElement.lang = locale
  return createI18n({ legacy: false, locale, fallbackLocale: 'en', messages })
}

// locale: the writable locale ref of the global composer (useI18n().locale in a component).
export function switchLocale(locale, code) {
  locale.value = code
  document.documentElement.lang = code
  try {
    window.localStorage.setItem(KEY, code)
  } catch {
    /* not kept: this page only */
  }
}
