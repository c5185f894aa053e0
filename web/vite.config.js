import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` serves the UI on :5173 with hot reload and proxies the API, the WebSocket and
// the media files to a herald serve on :8080 (HERALD_DEV_TARGET to change it).
const target = process.env.HERALD_DEV_TARGET || 'http://localhost:8080'

const escapeHtml = (v) =>
  String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

// what herald serve does to index.html at start (docs/ui.md, "Branding"), for `npm run dev`
const devBranding = {
  name: 'herald-dev-branding',
  apply: 'serve',
  transformIndexHtml: (html) =>
    html
      .replaceAll('__HERALD_APP_TITLE__', escapeHtml(process.env.HERALD_APP_TITLE || 'Herald'))
      .replaceAll('__HERALD_APP_DESCRIPTION__', escapeHtml(process.env.HERALD_APP_DESCRIPTION || '')),
}

export default defineConfig({
  plugins: [vue(), devBranding],
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/ws': { target, ws: true },
      '/media': { target },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    manifest: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
})
