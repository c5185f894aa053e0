// The console's notification screens in a real browser (docs/ui.md, "Notifications"): a
// template saved twice, its versions diffed and one activated, the live preview (and a JSON
// error with its position); an e-mail channel made through its form, pointed at a real SMTP
// sink (Debian's aiosmtpd, started here) and test-sent; a message type with an escalation
// chain; a notification sent to a user from the console, its delivery in the detail and in the
// filtered deliveries list; the instances page; the dashboard's stats charts. No console error.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, Socket } from 'node:net'
import { createServer as createHttpServer } from 'node:http'
import { createHmac } from 'node:crypto'
import { startServer, http, operatorToken, launch, newPage, shot, signIn } from './harness.mjs'

const PASS = 'a long passphrase for the notify ui test'
let srv
let browser
let admin
let app // {id, key, secret}
let sink // the aiosmtpd process
let sinkOut = ''
let sinkPort

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.on('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

// aiosmtpd's Debugging handler prints every message it receives to stdout
async function startSink() {
  sinkPort = await freePort()
  sink = spawn('/usr/bin/python3', ['-u', '-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${sinkPort}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  sink.stdout.on('data', (d) => (sinkOut += d))
  sink.stderr.on('data', (d) => (sinkOut += d))
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((ok) => {
      const c = new Socket()
      c.once('connect', () => {
        c.destroy()
        ok(true)
      })
      c.once('error', () => ok(false))
      c.connect(sinkPort, '127.0.0.1')
    }).catch(() => false)
    if (up) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('the SMTP sink did not start: ' + sinkOut)
}

before(async () => {
  srv = await startServer({ HERALD_ALLOW_PRIVATE_TARGETS: '1' }) // the webhook sink is on 127.0.0.1
  srv.createOperator('admin', PASS)
  admin = await operatorToken(srv.base, 'admin', PASS)
  app = await http(srv.base, 'POST', '/admin/apps', { token: admin, body: { name: 'Notify shop' } })
  const headers = { 'X-App-Key': app.key, 'X-App-Secret': app.secret }
  await http(srv.base, 'POST', '/users/batch', { headers, body: { users: [{ id: 'u1', name: 'Una' }, { id: 'u2', name: 'Udo' }] } })
  // a few chat messages: the stats' messages and active users
  const u1 = (await http(srv.base, 'POST', '/users/u1/tokens', { headers })).access_token
  const u2 = (await http(srv.base, 'POST', '/users/u2/tokens', { headers })).access_token
  for (const [token, to, content] of [[u1, 'u2', 'Hi'], [u2, 'u1', 'Hello'], [u1, 'u2', 'Order 7?']])
    await http(srv.base, 'POST', '/messages', { token, body: { to, message: { type: 'text', content } } })
  await http(srv.base, 'POST', '/admin/message-types', {
    token: admin,
    body: { app_id: app.id, code: 'order.paid', name: 'Order paid', channels: ['inapp'] },
  })
  await startSink()
  browser = await launch()
})

after(async () => {
  if (browser) await browser.close()
  if (sink && sink.exitCode === null) sink.kill('SIGTERM')
  if (srv) await srv.stop()
})

function assertClean(page) {
  assert.deepEqual(page.problems, [], 'console errors or uncaught exceptions in the page')
}

const input = (name) => `input[data-test=${name}], [data-test=${name}] input`
const area = (name) => `textarea[data-test=${name}], [data-test=${name}] textarea`

// the app select of a form (AppSelect: a select once the apps are loaded), set to the test's app
async function pickApp(page, scope) {
  await pick(page, scope.locator('.el-select', { hasText: 'All apps' }).first(), 'Notify shop')
}

// picks the option of an Element Plus select (opened by clicking it)
async function pick(page, selectLocator, text) {
  await selectLocator.click()
  await page.locator('.el-select-dropdown:visible .el-select-dropdown__item', { hasText: text }).first().click()
}

test('a template: two versions saved, diffed, one activated; the live preview', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-templates]')
  await page.click('[data-test=template-create]')
  await page.waitForURL(/\/admin\/templates\/new/)
  await pickApp(page, page.locator('.editor'))
  await page.fill(input('tpl-code'), 'order.paid')
  await page.fill(input('tpl-subject'), 'Order {{id}} paid')
  await page.fill(area('tpl-body'), 'Hello {{name}}\nTotal: {{total}}\n')
  await page.click('[data-test=tpl-save]')
  await page.waitForURL((u) => /\/admin\/templates\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith('/new'))
  await page.locator('[data-test=active-version]', { hasText: 'v1' }).waitFor()

  // the second version; a syntax error first: refused with its position, nothing saved
  await page.fill(area('tpl-body'), 'Hello {{#name}\n')
  await page.click('[data-test=tpl-save]')
  await page.locator('.el-form-item__error', { hasText: /line 1, column/ }).waitFor()
  await page.fill(area('tpl-body'), 'Hello {{name}}!\nTotal: {{total}}\n')
  await page.click('[data-test=tpl-save]')
  await page.locator('[data-test=active-version]', { hasText: 'v2' }).waitFor()

  // the live preview: parameters as JSON; values are text (HTML in them stays characters)
  await page.fill(area('tpl-params'), '{"id": 7, "name": "<b>Ann</b>", "total": "9.90"}')
  await page.locator('[data-test=preview-body]', { hasText: 'Hello <b>Ann</b>!' }).waitFor()
  await page.locator('[data-test=preview-subject]', { hasText: 'Order 7 paid' }).waitFor()
  assert.equal(await page.locator('[data-test=preview-body] b').count(), 0, 'the preview is text, never markup')
  await page.fill(area('tpl-params'), '{"id": 7,\n "name": }')
  await page.locator('[data-test=params-error]', { hasText: /line 2, column/ }).waitFor()
  await page.fill(area('tpl-params'), '{"id": 7, "name": "Ann", "total": "9.90"}')
  await page.locator('[data-test=preview-body]', { hasText: 'Hello Ann!' }).waitFor()
  await page.locator('[data-test=params-error]').waitFor({ state: 'detached' })
  // an HTML body (not saved): its preview is HTML-escaped by the API and shown as text
  await page.click('[data-test=tpl-has-html]')
  await page.fill(area('tpl-html'), '<p>Hello {{name}}, total <b>{{total}}</b></p>')
  await page.locator('[data-test=preview-html]', { hasText: '<p>Hello Ann, total <b>9.90</b></p>' }).waitFor()
  assert.equal(await page.locator('[data-test=preview-html] p').count(), 0)
  await page.mouse.move(1, 1) // no hover highlight in the picture
  await shot(page, 'console-template-editor')

  // versions: diff 1 → 2, then activate 1 (confirmed)
  await page.locator('.el-tabs__item', { hasText: 'Versions' }).click()
  await page.locator('[data-test=versions-table] tr', { hasText: 'v1' }).waitFor()
  await page.click('[data-test=diff-pick-1]')
  await page.click('[data-test=diff-pick-2]')
  await page.click('[data-test=diff-run]')
  const body = page.locator('[data-test=diff-body]')
  await body.locator('.del', { hasText: '- Hello {{name}}' }).waitFor()
  await body.locator('.add', { hasText: '+ Hello {{name}}!' }).waitFor()
  await body.locator('.same', { hasText: 'Total: {{total}}' }).waitFor()
  await page.mouse.move(1, 1)
  await shot(page, 'console-template-diff')
  await page.click('[data-test=activate-1]')
  await page.locator('.el-message-box button', { hasText: 'Activate' }).click()
  await page.locator('[data-test=active-version]', { hasText: 'v1' }).waitFor()
  const list = await http(srv.base, 'GET', `/admin/templates?app_id=${app.id}&locale=`, { token: admin })
  assert.equal(list.results.length, 1)
  assert.equal(list.results[0].active_version, 1)
  assert.equal(list.results[0].latest_version, 2)
  // a variant of the code in another locale, from the editor
  await page.click('[data-test=tpl-new-variant]')
  await page.waitForURL((u) => u.pathname.endsWith('/new') && u.searchParams.get('code') === 'order.paid')
  assert.equal(await page.locator(input('tpl-code')).inputValue(), 'order.paid')
  await page.fill(input('tpl-locale'), 'zh-CN')
  await page.fill(input('tpl-subject'), '订单 {{id}} 已支付')
  await page.fill(area('tpl-body'), '{{name}}，您好')
  await page.click('[data-test=tpl-save]')
  await page.locator('[data-test=tpl-variants] button', { hasText: 'zh-CN' }).waitFor()
  await page.locator('[data-test=tpl-variants] button', { hasText: 'default' }).click()
  await page.locator('[data-test=active-version]', { hasText: 'v1' }).waitFor()
  assert.equal((await http(srv.base, 'GET', `/admin/templates?app_id=${app.id}&code=order.paid`, { token: admin })).count, 2)
  // the 400s above were asked for: the save (and the preview) of the text with a syntax error
  const bad = page.problems.filter((p) => /status of 400/.test(p))
  assert.ok(bad.length >= 1 && bad.length <= 2)
  page.problems = page.problems.filter((p) => !/status of 400/.test(p))
  assertClean(page)
  await page.context().close()
})

test('an e-mail channel made through its form, test-sent to a real SMTP sink', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-channels]')
  await page.click('[data-test=channel-create]')
  const dlg = page.locator('.el-dialog:visible')
  await pickApp(page, dlg)
  await page.fill(input('channel-name'), 'Mail')
  await page.fill(input('cfg-from'), 'Shop <noreply@shop.example>')
  await page.fill(input('cfg-acc-host'), '127.0.0.1')
  await page.fill(input('cfg-acc-port'), String(sinkPort))
  await pick(page, dlg.locator('fieldset .el-select').first(), 'none')
  await page.click('[data-test=channel-submit]')
  await page.locator('[data-test=channels-table] tr', { hasText: 'Mail' }).waitFor()
  await page.click('[data-test=channel-test-Mail]')
  await page.fill(input('test-to'), 'alice@example.com')
  await page.fill(input('test-title'), 'Console test <one>')
  await page.click('[data-test=test-send]')
  await page.locator('[data-test=test-outcome]', { hasText: 'sent' }).waitFor()
  for (let i = 0; i < 50 && !sinkOut.includes('Console test'); i++) await new Promise((r) => setTimeout(r, 100))
  assert.match(sinkOut, /Subject: Console test <one>/)
  assert.match(sinkOut, /alice@example\.com/)
  await shot(page, 'console-channel-test')
  await page.locator('.el-dialog:visible button', { hasText: 'Done' }).click()

  // a secret comes back masked and is kept when the form is saved unchanged
  const ch = await http(srv.base, 'POST', '/admin/channels', {
    token: admin,
    body: {
      app_id: app.id, name: 'Relay', kind: 'email',
      config: { from: 'a@shop.example', accounts: [{ host: '127.0.0.1', port: sinkPort, security: 'none', username: 'u', password: 'correct horse battery' }] },
    },
  })
  await page.reload()
  await page.click('[data-test=channel-edit-Relay]')
  const pw = page.locator(input('cfg-acc-password'))
  await pw.waitFor()
  assert.equal(await pw.inputValue(), '****tery')
  assert.ok(!(await page.content()).includes('correct horse battery'))
  await page.click('[data-test=channel-submit]')
  await page.locator('.el-dialog:visible').waitFor({ state: 'hidden' })
  const after = await http(srv.base, 'GET', `/admin/channels/${ch.id}`, { token: admin })
  assert.equal(after.config.accounts[0].password, '****tery')
  let audit = await http(srv.base, 'GET', '/admin/audit-log?action=channel.update', { token: admin })
  assert.equal(audit.count, 1)
  // disabling is confirmed
  await page.locator('[data-test=channels-table] tr', { hasText: 'Relay' }).locator('.el-switch').click()
  await page.locator('.el-message-box button', { hasText: 'Disable channel' }).click()
  await page.locator('[data-test=channels-table] tr', { hasText: 'Relay' }).locator('.el-switch:not(.is-checked)').waitFor()
  assert.equal((await http(srv.base, 'GET', `/admin/channels/${ch.id}`, { token: admin })).enabled, false)
  assertClean(page)
  await page.context().close()
})

test('a webhook channel: the signing secret masked and kept; a signed test send to a real HTTP sink', async () => {
  const got = []
  const hook = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      got.push({ headers: req.headers, body })
      res.writeHead(204)
      res.end()
    })
  })
  await new Promise((ok) => hook.listen(0, '127.0.0.1', ok))
  const url = `http://127.0.0.1:${hook.address().port}/hook`
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-channels]')
  await page.click('[data-test=channel-create]')
  const dlg = page.locator('.el-dialog:visible')
  await pickApp(page, dlg)
  await page.fill(input('channel-name'), 'Hook')
  await pick(page, dlg.locator('.el-select').nth(1), 'Webhook')
  await page.fill(input('cfg-url'), url)
  await page.fill(input('cfg-secret'), 'a webhook signing secret')
  await page.click('[data-test=channel-submit]')
  await page.locator('[data-test=channels-table] tr', { hasText: 'Hook' }).waitFor()
  await page.click('[data-test=channel-edit-Hook]')
  const secret = page.locator(input('cfg-secret'))
  await secret.waitFor()
  assert.equal(await secret.inputValue(), '****cret')
  await page.locator('.el-dialog:visible .hint').first().waitFor() // "kept unless you type a new value"
  await page.click('[data-test=channel-submit]')
  await page.locator('.el-dialog:visible').waitFor({ state: 'hidden' })
  await page.click('[data-test=channel-test-Hook]')
  await page.fill(input('test-title'), 'Hook test')
  await page.click('[data-test=test-send]')
  await page.locator('[data-test=test-outcome]', { hasText: 'sent' }).waitFor()
  assert.equal(got.length, 1)
  // signed with the secret typed at creation: the unchanged mask kept it
  const sig = Object.fromEntries(got[0].headers['x-herald-signature'].split(',').map((kv) => kv.split('=')))
  const want = createHmac('sha256', 'a webhook signing secret').update(`${sig.t}.${got[0].body}`).digest('hex')
  assert.equal(sig.v1, want)
  assert.match(got[0].body, /Hook test/)
  await page.locator('.el-dialog:visible button', { hasText: 'Done' }).click()
  hook.close()
  assertClean(page)
  await page.context().close()
})

test('a message type with an escalation chain; its channel pair with a template code', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-types]')
  await page.locator('[data-test=types-table] tr', { hasText: 'order.paid' }).waitFor()
  await page.click('[data-test=type-create]')
  const dlg = page.locator('.el-dialog:visible')
  await pickApp(page, dlg)
  await page.fill(input('type-code'), 'order.shipped')
  await page.fill(input('type-name'), 'Order shipped')
  await page.click('[data-test=esc-add]')
  await page.click('[data-test=esc-add]')
  await page.click('[data-test=type-submit]')
  await page.locator('[data-test=types-table] tr', { hasText: 'order.shipped' }).waitFor()
  const types = await http(srv.base, 'GET', `/admin/message-types?app_id=${app.id}&code=order.shipped`, { token: admin })
  assert.deepEqual(types.results[0].escalation, [{ channel: 'inapp', after_s: 0 }, { channel: 'email', after_s: 60 }])
  await page.click('[data-test=type-pairs-order\\.shipped]')
  await page.locator('.el-drawer input[placeholder="order.shipped"]').fill('shipping')
  await page.click('[data-test=pair-add]')
  await page.locator('[data-test=pairs-table] tr', { hasText: 'In-app' }).waitFor()
  const pairs = await http(srv.base, 'GET', `/admin/channel-message-types?type_id=${types.results[0].id}`, { token: admin })
  assert.equal(pairs.results[0].template_code, 'shipping')
  assertClean(page)
  await page.context().close()
})

test('a notification sent from the console: its delivery in the detail and the deliveries list', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-notifications]')
  await page.click('[data-test=notification-send]')
  const dlg = page.locator('.el-dialog:visible')
  await pickApp(page, dlg)
  await page.fill(input('send-type'), 'order.paid')
  await page.fill(area('send-recipients'), 'u1')
  await page.fill(input('send-title'), 'Your order <7> is paid')
  await page.fill(area('send-content'), 'Thanks!')
  await page.click('[data-test=send-submit]')
  await page.waitForURL(/\/admin\/notifications\/[^/]+$/)
  await page.locator('[data-test=notification-detail]', { hasText: 'Your order <7> is paid' }).waitFor()
  const row = page.locator('[data-test=deliveries-table] tr', { hasText: 'u1' }).first()
  await row.waitFor()
  await row.locator('td', { hasText: 'In-app' }).waitFor()
  await row.locator('.el-table__expand-icon').click() // its attempts
  await page.locator('.attempts tr', { hasText: 'sent' }).waitFor()
  await shot(page, 'console-notification')

  await page.click('[data-test=menu-deliveries]')
  await page.fill(input('dlv-user'), 'u1')
  await page.click('[data-test=dlv-apply]')
  await page.waitForURL((u) => u.pathname === '/admin/deliveries' && u.searchParams.get('user_id') === 'u1')
  await page.locator('[data-test=deliveries-table] tr', { hasText: 'order.paid' }).waitFor()
  const d = await http(srv.base, 'GET', `/admin/deliveries?user_id=u1`, { token: admin })
  assert.equal(d.count, 1)

  // a dead delivery (an e-mail channel of one attempt towards a closed port), retried now
  const dead = await http(srv.base, 'POST', '/admin/apps', { token: admin, body: { name: 'Dead shop' } })
  await http(srv.base, 'POST', '/admin/message-types', { token: admin, body: { app_id: dead.id, code: 'ping', name: 'Ping', channels: ['email'] } })
  await http(srv.base, 'POST', '/admin/channels', {
    token: admin,
    body: { app_id: dead.id, name: 'Nowhere', kind: 'email', max_attempts: 1, config: { from: 'a@shop.example', accounts: [{ host: '127.0.0.1', port: await freePort(), security: 'none' }] } },
  })
  const sent = await http(srv.base, 'POST', '/admin/notifications', {
    token: admin, body: { app_id: dead.id, type: 'ping', recipients: [{ email: 'bob@example.com' }], title: 'Ping', content: 'ping' },
  })
  let dl
  for (let i = 0; i < 100; i++) {
    dl = (await http(srv.base, 'GET', `/admin/deliveries?notification_id=${sent.id}`, { token: admin })).results[0]
    if (dl && (dl.status === 'dead' || dl.status === 'failed')) break
    await new Promise((r) => setTimeout(r, 200))
  }
  assert.ok(dl && (dl.status === 'dead' || dl.status === 'failed'), JSON.stringify(dl))
  await page.goto(srv.base + `/admin/deliveries?notification_id=${sent.id}`)
  await page.click(`[data-test=retry-${dl.id}]`)
  await page.locator('.el-message', { hasText: 'Queued again' }).waitFor()
  // the retry ran: a second attempt in the delivery's log
  let log = []
  for (let i = 0; i < 100 && log.length < 2; i++) {
    log = (await http(srv.base, 'GET', `/admin/notifications/${sent.id}`, { token: admin })).deliveries[0].attempt_log
    if (log.length < 2) await new Promise((r) => setTimeout(r, 200))
  }
  assert.equal(log.length, 2)
  const retried = await http(srv.base, 'GET', '/admin/audit-log?action=delivery.retry', { token: admin })
  assert.equal(retried.count, 1)

  await page.click('[data-test=menu-instances]')
  await page.locator('[data-test=instances-table] .el-tag', { hasText: 'Alive' }).waitFor()
  assertClean(page)
  await page.context().close()
})

test('the dashboard draws the stats charts from /admin/stats', async () => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 1100 } })
  await signIn(page, srv.base, 'admin', PASS)
  await page.locator('[data-test=chart-activity] canvas').waitFor()
  await page.locator('[data-test=chart-status] canvas').waitFor()
  await page.locator('[data-test=chart-channel] canvas').waitFor()
  // the console's send above: one message, one delivery through in-app
  const stats = await http(srv.base, 'GET', '/admin/stats', { token: admin })
  const total = (k) => stats.series.reduce((a, b) => a + (b[k] || 0), 0)
  assert.equal(total('messages'), 3)
  assert.equal(total('active_users'), 2)
  assert.ok(total('failed') >= 1) // the dead e-mail delivery of the test above
  for (const k of ['sent', 'delivered', 'failed'])
    await page.locator(`[data-test=stat-${k}] .num`, { hasText: new RegExp(`^${total(k)}$`) }).waitFor()
  await page.locator('[data-test=stat-messages] .num', { hasText: '3' }).waitFor()
  await page.locator('[data-test=stat-active_users] .num', { hasText: '2' }).waitFor()
  await page.locator('section.stats').evaluate((e) => e.scrollIntoView())
  await page.waitForTimeout(300)
  await shot(page, 'console-dashboard-stats')
  await page.click('[data-test=stats-bucket] label:has-text("daily")')
  await page.waitForURL((u) => u.searchParams.get('bucket') === 'day')
  await page.locator('[data-test=chart-activity] canvas').waitFor()
  assertClean(page)
  await page.context().close()
})

test('a reader of notifications: its menu, no write buttons, no stats; in Chinese', async () => {
  const role = await http(srv.base, 'POST', '/admin/roles', {
    token: admin,
    body: { name: 'notify-reader', permissions: ['notifications:read'], all_apps: true },
  })
  await http(srv.base, 'POST', '/admin/operators', { token: admin, body: { username: 'reader', password: PASS, roles: [role.id] } })
  const page = await newPage(browser, { locale: 'zh-CN' })
  await signIn(page, srv.base, 'reader', PASS)
  await page.locator('[data-test=menu-templates]', { hasText: '模板' }).waitFor()
  const items = await page.locator('[data-test=menu] [data-test^=menu-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-test')))
  assert.deepEqual(items.sort(), [
    'menu-channels', 'menu-dashboard', 'menu-deliveries', 'menu-instances', 'menu-notifications',
    'menu-subscriptions', 'menu-templates', 'menu-types',
  ])
  // no stats:read: no activity charts
  assert.equal(await page.locator('section.stats').count(), 0)
  for (const [name, write] of [['channels', 'channel-create'], ['types', 'type-create'], ['templates', 'template-create'], ['subscriptions', 'sub-set'], ['notifications', 'notification-send']]) {
    await page.click(`[data-test=menu-${name}]`)
    await page.locator('section h1').first().waitFor()
    await page.locator('.el-table').first().waitFor()
    assert.equal(await page.locator(`[data-test=${write}]`).count(), 0, `${write} is hidden without the write permission`)
  }
  await page.click('[data-test=menu-channels]')
  await page.locator('[data-test=channels-table] tr', { hasText: 'Mail' }).waitFor()
  assert.equal(await page.locator('[data-test=channel-test-Mail]').count(), 0)
  // the template opens read-only: no save button; the preview still works
  await page.click('[data-test=menu-templates]')
  await page.click('[data-test=template-open-order\\.paid]')
  await page.locator('[data-test=preview-body]', { hasText: 'Hello Ann' }).waitFor()
  assert.equal(await page.locator('[data-test=tpl-save]').count(), 0)
  await page.locator('.el-tabs__item', { hasText: '版本' }).click()
  await page.locator('[data-test=versions-table] tr', { hasText: 'v2' }).waitFor()
  assert.equal(await page.locator('[data-test^=activate-]').count(), 0)
  // a page it may not see: the dashboard
  await page.goto(srv.base + '/admin/audit')
  await page.waitForURL((u) => u.pathname === '/admin')
  assertClean(page)
  await page.context().close()
})
