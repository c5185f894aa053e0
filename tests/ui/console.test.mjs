// The /login + /admin console in a real browser (docs/ui.md): sign-in, an app created with its
// secret shown once and rotated, the menu of a limited operator, the live monitor, the
// language switch, and no console error anywhere. Screenshots go to HERALD_UI_SHOTS
// (build/ui-shots; `make ui-screenshots` writes docs/img).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, http, operatorToken, launch, newPage, shot, signIn } from './harness.mjs'

const PASS = 'a long passphrase for the ui test'
let srv
let browser
let admin // the superadmin's token, for setup through the API

before(async () => {
  srv = await startServer({ HERALD_APP_TITLE: 'Herald <Test>', HERALD_APP_DESCRIPTION: 'Messaging hub & console' })
  srv.createOperator('admin', PASS)
  admin = await operatorToken(srv.base, 'admin', PASS)
  browser = await launch()
})

after(async () => {
  if (browser) await browser.close()
  if (srv) await srv.stop()
})

function assertClean(page) {
  assert.deepEqual(page.problems, [], 'console errors or uncaught exceptions in the page')
}

test('/ redirects to /chat and the branding is escaped text', async () => {
  const page = await newPage(browser)
  const r = await page.goto(srv.base + '/')
  assert.equal(new URL(page.url()).pathname, '/chat')
  assert.equal(r.status(), 200)
  // the /chat bundle is loaded after the page: its title comes once it runs
  await page.waitForFunction(() => document.title.startsWith('Chat'), null, { timeout: 10000 })
  assert.equal(await page.title(), 'Chat · Herald <Test>')
  await page.goto(srv.base + '/login')
  await page.locator('.login-title').waitFor()
  assert.equal(await page.locator('.login-title').textContent(), 'Herald <Test>')
  assert.equal(await page.locator('.login-desc').textContent(), 'Messaging hub & console')
  assertClean(page)
  await page.context().close()
})

test('a wrong password is refused with a message; the right one signs in', async () => {
  const page = await newPage(browser)
  await page.goto(srv.base + '/admin/apps')
  await page.waitForURL(/\/login\?next=/)
  await page.fill('#login-username', 'admin')
  await page.fill('#login-password', 'not the password')
  await page.click('[data-test=login-submit]')
  await page.locator('[role=alert]', { hasText: 'Wrong name or password.' }).waitFor()
  await shot(page, 'console-login')
  // the keyboard alone: Tab from the name to the password, Enter submits
  await page.focus('#login-username')
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password')
  await page.keyboard.press('Control+A')
  await page.keyboard.type(PASS)
  await page.keyboard.press('Enter')
  await page.waitForURL((u) => u.pathname === '/admin/apps') // back where the operator was going
  // the token is in sessionStorage, never in the URL
  assert.ok(!page.url().includes('token'))
  assert.ok(await page.evaluate(() => !!sessionStorage.getItem('herald.operator')))
  // the 401 of the wrong password is an expected network error line; nothing else
  page.problems = page.problems.filter((p) => !/401/.test(p))
  assertClean(page)
  await page.context().close()
})

test('the console creates an app, shows its secret once, and rotates it', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-apps]')
  await page.waitForURL((u) => u.pathname === '/admin/apps')
  await page.click('[data-test=app-create]')
  await page.locator('input[data-test=app-name], [data-test=app-name] input').fill('Shop <b>one</b>')
  await page.click('[data-test=app-create-submit]')
  const secretEl = page.locator('[data-test=secret-value]')
  await secretEl.waitFor()
  const secret = (await secretEl.textContent()).trim()
  assert.match(secret, /^[A-Za-z0-9_-]{32,}$/)
  await shot(page, 'console-app-secret')

  // the secret works: the app authenticates with it
  const apps = await http(srv.base, 'GET', '/admin/apps', { token: admin })
  const app = apps.results.find((a) => a.name === 'Shop <b>one</b>')
  assert.ok(app, 'the app exists')
  const headers = { 'X-App-Key': app.key, 'X-App-Secret': secret }
  await http(srv.base, 'GET', '/users', { headers })

  await page.click('[data-test=secret-done]')
  await secretEl.waitFor({ state: 'hidden' })
  // the name is text, not markup
  const row = page.locator('[data-test=apps-table] tr', { hasText: 'Shop <b>one</b>' })
  await row.waitFor()
  assert.equal(await page.locator('[data-test=apps-table] b').count(), 0)
  // shown once: after a reload, nothing on the page holds it
  await page.reload()
  await row.waitFor()
  await page.click(`[data-test="app-open-${app.key}"]`)
  await page.locator('[data-test=secrets-table] tr', { hasText: secret.slice(-4) }).waitFor()
  assert.ok(!(await page.content()).includes(secret), 'the secret is never shown again')
  await shot(page, 'console-apps')

  // rotation: confirmed, then the new secret once; both secrets listed
  await page.click('[data-test=app-rotate]')
  await page.locator('.el-message-box').waitFor()
  await page.locator('.el-message-box button', { hasText: 'Rotate secret' }).click()
  await secretEl.waitFor()
  await page.locator('.el-message-box').waitFor({ state: 'hidden' })
  const second = (await secretEl.textContent()).trim()
  assert.match(second, /^[A-Za-z0-9_-]{32,}$/)
  assert.notEqual(second, secret)
  await http(srv.base, 'GET', '/users', { headers: { 'X-App-Key': app.key, 'X-App-Secret': second } })
  await page.click('[data-test=secret-done]')
  await page.locator('[data-test=secrets-table] tr', { hasText: second.slice(-4) }).waitFor()
  const listed = await http(srv.base, 'GET', `/admin/apps/${app.id}/secrets`, { token: admin })
  assert.equal(listed.count, 2)
  // the list searches by name or key, the search kept in the URL
  await page.goto(`${srv.base}/admin/apps`)
  await page.locator('input[data-test=apps-q], [data-test=apps-q] input').fill('<B>ONE')
  await page.keyboard.press('Enter')
  await page.waitForURL((u) => u.pathname === '/admin/apps' && u.searchParams.get('q') === '<B>ONE')
  await page.locator('[data-test=apps-table] tbody tr').first().waitFor()
  assert.equal(await page.locator('[data-test=apps-table] tbody tr').count(), 1)
  assert.ok(await page.locator('[data-test=apps-table] tbody tr', { hasText: 'Shop <b>one</b>' }).isVisible())
  const audit = await http(srv.base, 'GET', '/admin/audit-log', { token: admin, body: undefined })
  assert.ok(audit.results.some((r) => r.action === 'app.secret.rotate' && r.target === app.id))
  assertClean(page)
  await page.context().close()
})

test('the menu hides what a limited operator may not do; the router refuses it too', async () => {
  const role = await http(srv.base, 'POST', '/admin/roles', {
    token: admin,
    body: { name: 'support-reader', permissions: ['users:read'], all_apps: true },
  })
  await http(srv.base, 'POST', '/admin/operators', {
    token: admin,
    body: { username: 'limited', password: PASS, roles: [role.id] },
  })
  const page = await newPage(browser)
  await signIn(page, srv.base, 'limited', PASS)
  const menu = page.locator('[data-test=menu] [data-test^=menu-]')
  await page.locator('[data-test=menu-users]').waitFor()
  const items = await menu.evaluateAll((els) => els.map((e) => e.getAttribute('data-test')))
  assert.deepEqual(items.sort(), ['menu-dashboard', 'menu-users'])
  // the dashboard shows only what it may read
  await page.locator('[data-test=count-users]').waitFor()
  assert.equal(await page.locator('[data-test=count-apps]').count(), 0)
  // typing the address of a hidden page lands on the dashboard
  await page.goto(srv.base + '/admin/operators')
  await page.waitForURL((u) => u.pathname === '/admin')
  await page.locator('[data-test=count-users]').waitFor()
  assertClean(page)
  await page.context().close()
})

test('the live monitor shows a conversation and receives its new messages', async () => {
  const shop = await http(srv.base, 'POST', '/admin/apps', { token: admin, body: { name: 'Demo shop' } })
  const headers = { 'X-App-Key': shop.key, 'X-App-Secret': shop.secret }
  await http(srv.base, 'POST', '/users/batch', {
    headers,
    body: {
      users: [
        { id: 'b1', name: 'Bob', kind: 'buyer' },
        { id: 'm1', name: 'Mia', kind: 'merchant' },
      ],
    },
  })
  const b1 = (await http(srv.base, 'POST', '/users/b1/tokens', { headers })).access_token
  const m1 = (await http(srv.base, 'POST', '/users/m1/tokens', { headers })).access_token
  const send = (token, to, content) =>
    http(srv.base, 'POST', '/messages', { token, body: { to, message: { type: 'text', content } } })
  await send(b1, 'm1', 'Where is my order? <img src=x onerror=alert(1)>')
  await send(m1, 'b1', 'It ships today.')

  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-conversations]')
  const row = page.locator('[data-test=conversations-table] tr', { hasText: 'It ships today.' })
  await row.waitFor()
  await shot(page, 'console-conversations')
  await row.click()
  await page.waitForURL(/\/admin\/conversations\/c/)
  await page.locator('[data-test=monitor-state]', { hasText: 'Live' }).waitFor()
  const log = page.locator('[data-test=monitor-log]')
  await log.locator('text=Where is my order? <img src=x onerror=alert(1)>').waitFor()
  assert.equal(await log.locator('img').count(), 0, 'message text is never markup')
  // live: a message sent now shows up without a reload
  await send(b1, 'm1', 'Thanks, see you!')
  await log.locator('text=Thanks, see you!').waitFor()
  await shot(page, 'console-monitor')
  assertClean(page)
  await page.context().close()
})

test('the dashboard chart renders real counts; the language follows the browser and switches', async () => {
  const page = await newPage(browser, { locale: 'zh-CN' })
  await signIn(page, srv.base, 'admin', PASS)
  await page.locator('[data-test=menu-dashboard]', { hasText: '仪表盘' }).waitFor()
  // apps: Default, Shop <b>one</b>, Demo shop
  await page.locator('[data-test=count-apps]', { hasText: '3' }).waitFor()
  await page.locator('[data-test=chart-per-app] canvas').waitFor()
  await page.locator('.el-header .el-select').click()
  await page.locator('.el-select-dropdown__item', { hasText: 'English' }).click()
  await page.locator('[data-test=menu-dashboard]', { hasText: 'Dashboard' }).waitFor()
  await page.waitForTimeout(300) // the chart's resize settles
  await shot(page, 'console-dashboard')
  // kept for the next visit
  assert.equal(await page.evaluate(() => localStorage.getItem('herald.locale')), 'en')
  await page.click('[data-test=menu-audit]')
  await page.locator('[data-test=audit-table] tr', { hasText: 'app.secret.rotate' }).waitFor()
  await page.click('[data-test=menu-users]')
  await page.locator('input[data-test=users-q], [data-test=users-q] input').fill('mia')
  await page.keyboard.press('Enter')
  await page.waitForURL((u) => u.pathname === '/admin/users' && u.searchParams.get('q') === 'mia') // the filter is in the URL
  await page.locator('tr', { hasText: 'Mia' }).first().waitFor()
  // edit and disable (confirmed) through PATCH /admin/apps/{id}/users/{id}
  await page.locator('tr', { hasText: 'Mia' }).first().click()
  await page.locator('input[data-test=user-name], [data-test=user-name] input').fill('Mia Chen')
  await page.click('[data-test=user-save]')
  await page.locator('[data-test=user-status]', { hasText: 'Active' }).waitFor()
  await page.click('[data-test=user-disable]')
  await page.locator('.el-message-box button', { hasText: 'Disable user' }).click()
  await page.locator('[data-test=user-status]', { hasText: 'Disabled' }).waitFor()
  await page.locator('.el-message-box').waitFor({ state: 'hidden' })
  await shot(page, 'console-users')
  const users = await http(srv.base, 'GET', '/admin/users', { token: admin })
  const mia = users.results.find((u) => u.id === 'm1')
  assert.equal(mia.name, 'Mia Chen')
  assert.equal(mia.disabled, true)
  assertClean(page)
  await page.context().close()
})

test('roles, operators and the service queue through the console', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  // a role with two permissions on every app
  await page.click('[data-test=menu-roles]')
  await page.click('[data-test=role-create]')
  await page.locator('input[data-test=role-name], [data-test=role-name] input').fill('queue-keeper')
  await page.locator('[data-test="perm-conversations:monitor"]').click()
  await page.locator('[data-test="perm-conversations:assign"]').click()
  await page.click('[data-test=role-submit]')
  await page.locator('tr', { hasText: 'queue-keeper' }).waitFor()
  const roles = await http(srv.base, 'GET', '/admin/roles', { token: admin })
  const role = roles.results.find((r) => r.name === 'queue-keeper')
  assert.deepEqual(role.permissions.sort(), ['conversations:assign', 'conversations:monitor'])
  assert.equal(role.all_apps, true)
  // an operator holding it
  await page.click('[data-test=menu-operators]')
  await page.click('[data-test=operator-create]')
  await page.locator('input[data-test=operator-name], [data-test=operator-name] input').fill('keeper')
  await page.locator('input[data-test=operator-password], [data-test=operator-password] input').fill(PASS)
  await page.locator('[data-test=operator-roles]').click()
  await page.locator('.el-select-dropdown__item', { hasText: 'queue-keeper' }).click()
  await page.keyboard.press('Escape')
  await page.click('[data-test=operator-submit]')
  await page.locator('tr', { hasText: 'keeper' }).first().waitFor()
  await page.context().close()

  // the new operator resolves the b1–m1 conversation from the queue
  const kp = await newPage(browser)
  await signIn(kp, srv.base, 'keeper', PASS)
  const items = await kp.locator('[data-test=menu] [data-test^=menu-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-test')))
  assert.deepEqual(items.sort(), ['menu-conversations', 'menu-dashboard', 'menu-queue'])
  await kp.click('[data-test=menu-queue]')
  const row = kp.locator('tr', { hasText: 'Thanks, see you!' })
  await row.waitFor()
  await shot(kp, 'console-queue')
  await row.locator('.el-select').click()
  await kp.locator('.el-select-dropdown__item:visible', { hasText: 'Resolved' }).click()
  await kp.locator('.el-message', { hasText: 'Saved' }).waitFor()
  const convs = await http(srv.base, 'GET', '/admin/conversations?status=resolved', { token: admin })
  assert.equal(convs.count, 1)
  assert.deepEqual(convs.results[0].members.map((m) => m.user_id).sort(), ['b1', 'm1'])
  // it left the default (open) view of the queue
  await row.waitFor({ state: 'detached' })
  assertClean(kp)
  await kp.context().close()
})

test('sign out ends the operator\'s console tokens on the server too', async () => {
  srv.createOperator('leaver', PASS)
  const other = await operatorToken(srv.base, 'leaver', PASS) // another browser of theirs
  const page = await newPage(browser)
  await signIn(page, srv.base, 'leaver', PASS)
  const mine = await page.evaluate(() => sessionStorage.getItem('herald.operator'))
  assert.ok(mine)
  await page.click('[data-test=logout]')
  await page.waitForURL((u) => u.pathname === '/login')
  assert.equal(await page.evaluate(() => sessionStorage.getItem('herald.operator')), null)
  for (const token of [mine, other]) {
    await assert.rejects(http(srv.base, 'GET', '/admin/auth/me', { token }), (e) => e.status === 401)
  }
  assertClean(page)
  await page.context().close()
})
