// The browser tests' harness: a real `herald serve` on a fresh data directory (port 0, the
// port read from its "listening on" line), operators made with the CLI, Debian's chromium
// driven by playwright-core (never a downloaded browser), and an HTTP helper for setup.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const repo = resolve(here, '..', '..')
// playwright-core is a devDependency of web/ (web/package-lock.json)
const require = createRequire(join(repo, 'web', 'package.json'))
const { chromium } = require('playwright-core')

export const BIN = process.env.HERALD_BIN || join(repo, 'build', 'release', 'herald')
export const CHROMIUM = process.env.HERALD_CHROMIUM || '/usr/bin/chromium'
export const SHOTS = process.env.HERALD_UI_SHOTS || join(repo, 'build', 'ui-shots')

function serverEnv(dataDir, extra) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HERALD_')) env[k] = v
  return { ...env, HERALD_LISTEN: '127.0.0.1:0', HERALD_DATA_DIR: dataDir, HERALD_LOG_LEVEL: 'warn', ...extra }
}

export async function startServer(extra = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-ui-'))
  const env = serverEnv(dataDir, extra)
  const proc = spawn(BIN, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (d) => {
    stderr += d
  })
  const port = await new Promise((ok, fail) => {
    let out = ''
    const timer = setTimeout(() => fail(new Error('herald serve did not start: ' + stderr)), 20000)
    proc.stdout.on('data', (d) => {
      out += d
      const m = /listening on \S+:(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        ok(Number(m[1]))
      }
    })
    proc.on('exit', (code) => fail(new Error(`herald serve exited ${code}: ${stderr}`)))
  })
  const base = `http://127.0.0.1:${port}`
  return {
    port,
    base,
    dataDir,
    get stderr() {
      return stderr
    },
    // herald admin create NAME --password-stdin, on the same data directory
    createOperator(name, password) {
      const r = spawnSync(BIN, ['admin', 'create', name, '--password-stdin'], {
        env: serverEnv(dataDir, {}),
        input: password + '\n',
        encoding: 'utf8',
      })
      if (r.status !== 0) throw new Error(`admin create failed: ${r.stderr}`)
    },
    async stop() {
      if (proc.exitCode === null) {
        const done = new Promise((ok) => proc.on('exit', (code, sig) => ok([code, sig])))
        proc.kill('SIGTERM')
        const [code] = await done
        if (code !== 0) throw new Error(`herald serve exited ${code}: ${stderr}`)
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

// fetch JSON; throws on a non-2xx answer with the body in the message
export async function http(base, method, path, { token, body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers }
  if (token) h.Authorization = 'Bearer ' + token
  if (body !== undefined) h['Content-Type'] = 'application/json'
  const r = await fetch(base + '/api/v1' + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  const data = text ? JSON.parse(text) : null
  if (!r.ok) {
    const e = new Error(`${method} ${path}: ${r.status} ${text}`)
    e.status = r.status
    throw e
  }
  return data
}

export async function operatorToken(base, username, password) {
  return (await http(base, 'POST', '/admin/auth/login', { body: { username, password } })).access_token
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  })
}

// a page that records console errors and uncaught exceptions (the tests assert none)
export async function newPage(browser, { locale = 'en-US', viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ locale, viewport })
  const page = await context.newPage()
  page.setDefaultTimeout(15000)
  page.problems = []
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push('console: ' + m.text())
  })
  page.on('pageerror', (e) => page.problems.push('pageerror: ' + e.message))
  return page
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true })
  await page.waitForTimeout(600) // dialogs and drawers finish their transitions
  await page.screenshot({ path: join(SHOTS, name + '.png') })
}

export async function signIn(page, base, username, password) {
  await page.goto(base + '/login')
  await page.fill('#login-username', username)
  await page.fill('#login-password', password)
  await page.click('[data-test=login-submit]')
  await page.waitForURL(/\/admin/)
  await page.locator('[data-test=operator-name]', { hasText: username }).waitFor()
}
