// A paged, filtered list whose state lives in the URL query (?page=2&q=bob): reloading the
// page, the back button and a shared link all show the same list.
import { reactive, ref, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { ElMessage } from 'element-plus'

export function errorText(e) {
  if (!e) return ''
  return e.field ? `${e.message} (${e.field})` : e.message || String(e)
}

export function showError(e) {
  ElMessage({ type: 'error', message: errorText(e), showClose: true, duration: 6000 })
}

// defaults: every filter with its default value ({page: 1, page_size: 20, q: ''});
// loader(filters) → {count, results}
export function useUrlList(defaults, loader) {
  const route = useRoute()
  const router = useRouter()
  const routeName = route.name
  const filters = reactive({ ...defaults })
  const rows = ref([])
  const count = ref(0)
  const loading = ref(false)
  const error = ref('')

  function fromQuery() {
    for (const k of Object.keys(defaults)) {
      const v = route.query[k]
      if (v === undefined || v === null || Array.isArray(v)) filters[k] = defaults[k]
      else if (typeof defaults[k] === 'number') {
        const n = parseInt(v, 10)
        filters[k] = Number.isFinite(n) && n > 0 ? n : defaults[k]
      } else filters[k] = String(v)
    }
  }

  let seq = 0
  async function load() {
    const mine = ++seq
    loading.value = true
    error.value = ''
    try {
      const r = await loader({ ...filters })
      if (mine !== seq) return
      rows.value = (r && r.results) || []
      count.value = (r && r.count) || 0
    } catch (e) {
      if (mine !== seq) return
      rows.value = []
      count.value = 0
      error.value = errorText(e)
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  // writes the filters into the URL (defaults left out); the watcher below then loads
  function apply(resetPage = true) {
    if (resetPage && 'page' in defaults) filters.page = 1
    const query = {}
    for (const k of Object.keys(defaults))
      if (filters[k] !== defaults[k] && filters[k] !== '' && filters[k] !== null) query[k] = String(filters[k])
    const same = JSON.stringify(query) === JSON.stringify(route.query)
    if (same) load()
    else router.push({ name: routeName, params: route.params, query })
  }

  function setPage(p) {
    filters.page = p
    apply(false)
  }

  function setPageSize(n) {
    filters.page_size = n
    apply(true)
  }

  function reset() {
    Object.assign(filters, defaults)
    apply(true)
  }

  watch(
    () => route.query,
    () => {
      if (route.name !== routeName) return
      fromQuery()
      load()
    },
    { immediate: true },
  )

  return { filters, rows, count, loading, error, load, apply, setPage, setPageSize, reset }
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—'
  const d = new Date(Number(ms))
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleString()
}
