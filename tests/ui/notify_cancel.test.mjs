// Cancelling a scheduled notification from the console in a real browser (docs/ui.md,
// "Notifications"; POST /admin/notifications/{id}/cancel): the detail of a notification
// scheduled for the future has "Cancel sending"; it asks first ("Keep it" changes nothing),
// then cancels — the status and the delivery become cancelled, the button goes, the cancel is
// audited. In Chinese the same; an operator with only notifications:read sees no button; a
// notification that is not scheduled has none. No console error.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, http, operatorToken, launch, newPage, shot, signIn } from './harness.mjs'

const PASS = 'a long passphrase for the cancel ui test'
let srv
let browser
let admin
let headers // the app's

before(async () => {
  srv = await startServer()
  srv.createOperator('admin', PASS)
  admin = await operatorToken(srv.base, 'admin', PASS)
  const app = await http(srv.base, 'POST', '/admin/apps', { token: admin, body: { name: 'Cancel shop' } })
  headers = { 'X-App-Key': app.key, 'X-App-Secret': app.secret }
  await http(srv.base, 'POST', '/users/batch', { headers, body: { users: [{ id: 'u1', name: 'Una' }] } })
  const role = await http(srv.base, 'POST', '/admin/roles', {
    token: admin,
    body: { name: 'cancel-reader', permissions: ['notifications:read'], all_apps: true },
  })
  await http(srv.base, 'POST', '/admin/operators', { token: admin, body: { username: 'reader', password: PASS, roles: [role.id] } })
  browser = await launch()
})

after(async () => {
  if (browser) await browser.close()
  if (srv) await srv.stop()
})

function assertClean(page) {
  assert.deepEqual(page.problems, [], 'console errors or uncaught exceptions in the page')
}

// a notification for u1 due in an hour (the app's API)
async function scheduled(title) {
  const r = await http(srv.base, 'POST', '/notifications', {
    headers,
    body: { type: 'order.reminder', recipients: ['u1'], title, send_at: Date.now() + 3600000 },
  })
  return r.id
}

const status = async (id) => (await http(srv.base, 'GET', `/admin/notifications/${id}`, { token: admin })).status

test('a scheduled notification cancelled from its detail, after a confirmation', async () => {
  const id = await scheduled('Your cart misses you')
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  await page.click('[data-test=menu-notifications]')
  await page.click(`[data-test=notification-open-${id}]`)
  await page.waitForURL((u) => u.pathname === `/admin/notifications/${id}`)
  await page.locator('[data-test=notification-status]', { hasText: 'Scheduled' }).waitFor()
  // the dialog asks first; keeping it changes nothing
  await page.click('[data-test=notification-cancel]')
  const box = page.locator('.el-message-box')
  await box.locator('.el-message-box__message', { hasText: 'order.reminder' }).waitFor()
  await box.locator('.el-message-box__message', { hasText: 'nothing is sent' }).waitFor()
  await shot(page, 'console-notification-cancel')
  await box.locator('button', { hasText: 'Keep it' }).click()
  await box.waitFor({ state: 'hidden' })
  assert.equal(await status(id), 'scheduled')
  // confirmed: cancelled, its delivery too, and the button is gone
  await page.click('[data-test=notification-cancel]')
  await box.locator('button', { hasText: 'Cancel sending' }).click()
  await page.locator('.el-message', { hasText: 'Cancelled: 1 deliveries' }).waitFor()
  await page.locator('[data-test=notification-status]', { hasText: 'Cancelled' }).waitFor()
  await page.locator('[data-test=deliveries-table] tr', { hasText: 'u1' }).locator('.el-tag', { hasText: 'Cancelled' }).waitFor()
  await page.locator('[data-test=notification-cancel]').waitFor({ state: 'detached' })
  assert.equal(await status(id), 'cancelled')
  const d = await http(srv.base, 'GET', `/admin/deliveries?notification_id=${id}`, { token: admin })
  assert.deepEqual(d.results.map((x) => x.status), ['cancelled'])
  const audit = await http(srv.base, 'GET', '/admin/audit-log?action=notification.cancel', { token: admin })
  assert.equal(audit.count, 1)
  assert.equal(audit.results[0].target, id)
  // the list shows it cancelled
  await page.click('[data-test=menu-notifications]')
  await page.locator('[data-test=notifications-table] tr', { hasText: 'Your cart misses you' }).locator('.el-tag', { hasText: 'Cancelled' }).waitFor()
  assertClean(page)
  await page.context().close()
})

test('in Chinese; no button for a notification sent at once or for a reader', async () => {
  const id = await scheduled('提醒')
  const page = await newPage(browser, { locale: 'zh-CN' })
  await signIn(page, srv.base, 'admin', PASS)
  await page.goto(srv.base + `/admin/notifications/${id}`)
  await page.locator('[data-test=notification-status]', { hasText: '已预约' }).waitFor()
  await page.locator('[data-test=notification-cancel]', { hasText: '取消发送' }).click()
  const box = page.locator('.el-message-box')
  await box.locator('.el-message-box__message', { hasText: '此操作无法撤销' }).waitFor()
  await box.locator('button', { hasText: '取消发送' }).click()
  await page.locator('[data-test=notification-status]', { hasText: '已取消' }).waitFor()
  assert.equal(await status(id), 'cancelled')
  // sent at once: never scheduled, no button
  const now = await http(srv.base, 'POST', '/notifications', { headers, body: { type: 'order.now', recipients: ['u1'], title: 'now' } })
  await page.goto(srv.base + `/admin/notifications/${now.id}`)
  await page.locator('[data-test=notification-detail]', { hasText: 'order.now' }).waitFor()
  await page.locator('[data-test=notification-status]').waitFor()
  assert.equal(await page.locator('[data-test=notification-cancel]').count(), 0)
  assertClean(page)
  await page.context().close()

  // notifications:read only: the scheduled one's detail without the button
  const other = await scheduled('for the reader')
  const rpage = await newPage(browser)
  await signIn(rpage, srv.base, 'reader', PASS)
  await rpage.goto(srv.base + `/admin/notifications/${other}`)
  await rpage.locator('[data-test=notification-status]', { hasText: 'Scheduled' }).waitFor()
  await rpage.locator('[data-test=deliveries-table] tr', { hasText: 'u1' }).waitFor()
  assert.equal(await rpage.locator('[data-test=notification-cancel]').count(), 0)
  assert.equal(await status(other), 'scheduled')
  assertClean(rpage)
  await rpage.context().close()
})
