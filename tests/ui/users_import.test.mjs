// The console's user import in a real browser (docs/ui.md, "Importing users"): a CSV file
// given to the users screen's Import dialog is parsed in the page (preview and count), sent
// to POST /admin/apps/{id}/users/import, and the users are listed; a file with a bad row
// shows that row's error and imports nothing; the dialog in Chinese with a dropped JSON file;
// a file over the server's request limit says so. No console error.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startServer, http, operatorToken, launch, newPage, shot, signIn } from './harness.mjs'

const PASS = 'a long passphrase for the import test'
let srv
let browser
let admin
let app

before(async () => {
  srv = await startServer()
  srv.createOperator('admin', PASS)
  admin = await operatorToken(srv.base, 'admin', PASS)
  app = await http(srv.base, 'POST', '/admin/apps', { token: admin, body: { name: 'Import shop' } })
  browser = await launch()
})

after(async () => {
  if (browser) await browser.close()
  if (srv) await srv.stop()
})

const CSV = [
  'id,name,kind,email,metadata,password',
  'imp1,"Ivy, the first",buyer,ivy@example.com,"{""tier"":""gold""}",',
  'imp2,Ian,merchant,,,ian password 1',
  'imp3,Iris Ng,buyer,,,',
  '',
].join('\r\n')

// opens the dialog and gives it file: picked through the file input, or dropped on the zone
async function openImport(page, file, { drop = false } = {}) {
  await page.goto(`${srv.base}/admin/users?app_id=${encodeURIComponent(app.id)}`)
  await page.click('[data-test=users-import]')
  const dialog = page.getByRole('dialog')
  await dialog.waitFor()
  if (!drop) {
    await dialog.locator('input[type=file]').setInputFiles(file)
    return dialog
  }
  const dataTransfer = await page.evaluateHandle(({ name, mimeType, text }) => {
    const dt = new DataTransfer()
    dt.items.add(new File([text], name, { type: mimeType }))
    return dt
  }, { name: file.name, mimeType: file.mimeType, text: file.buffer.toString() })
  const zone = dialog.locator('.el-upload-dragger')
  await zone.dispatchEvent('dragover', { dataTransfer })
  await zone.dispatchEvent('drop', { dataTransfer })
  return dialog
}

test('a CSV file is previewed, imported, and its users are listed', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  const dialog = await openImport(page, { name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) })
  await dialog.locator('[data-test=import-count]', { hasText: '3 users in the file.' }).waitFor()
  const preview = dialog.locator('[data-test=import-preview]')
  await preview.getByText('Ivy, the first').waitFor()
  await preview.getByText('{"tier":"gold"}').waitFor()
  assert.ok(!(await preview.textContent()).includes('ian password 1'), 'the password is not shown')
  await shot(page, 'console-users-import')
  await dialog.locator('[data-test=import-submit]').click()
  await dialog.locator('[data-test=import-result]', { hasText: 'Imported: 3 created, 0 updated, 0 skipped.' }).waitFor()
  await dialog.getByRole('button', { name: 'Done' }).click()
  await dialog.waitFor({ state: 'hidden' })
  // the list behind the dialog was reloaded
  for (const name of ['Ivy, the first', 'Ian', 'Iris Ng']) await page.getByRole('cell', { name, exact: true }).filter({ visible: true }).waitFor()
  const users = await http(srv.base, 'GET', `/admin/users?app_id=${app.id}`, { token: admin })
  assert.deepEqual(users.results.map((u) => u.id).sort(), ['imp1', 'imp2', 'imp3'])
  const ivy = users.results.find((u) => u.id === 'imp1')
  assert.deepEqual(ivy.contacts, { email: 'ivy@example.com' })
  assert.deepEqual(ivy.metadata, { tier: 'gold' })
  assert.equal(users.results.find((u) => u.id === 'imp2').has_password, true)
  assert.deepEqual(page.problems, [])
  await page.context().close()
})

test('a bad row is shown with its row and field, and nothing is imported', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  const bad = 'id,name,email\nnew1,New,new1@example.com\nnew2,Bad,not-an-address\n'
  const dialog = await openImport(page, { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) })
  await dialog.locator('[data-test=import-count]', { hasText: '2 users in the file.' }).waitFor()
  await dialog.locator('[data-test=import-submit]').click()
  const errors = dialog.locator('[data-test=import-errors]')
  await errors.waitFor()
  const row = errors.locator('tbody tr').first()
  await row.getByText('contacts.email').waitFor()
  assert.match(await row.textContent(), /^\s*2\s*new2/)
  const users = await http(srv.base, 'GET', `/admin/users?app_id=${app.id}&q=new`, { token: admin })
  assert.equal(users.count, 0)
  // the 422 of the import is an expected network error line; nothing else
  page.problems = page.problems.filter((p) => !/422/.test(p))
  assert.deepEqual(page.problems, [])
  await page.context().close()
})

test('the dialog speaks Chinese, and a JSON file dropped on it is read too', async () => {
  const page = await newPage(browser, { locale: 'zh-CN' })
  await signIn(page, srv.base, 'admin', PASS)
  const json = JSON.stringify({ users: [{ id: 'imp1', name: 'Ivy again' }, { id: 'imp4', name: '伊万' }] })
  const dialog = await openImport(page, { name: 'users.json', mimeType: 'application/json', buffer: Buffer.from(json) }, { drop: true })
  await page.getByText('导入用户').first().waitFor()
  await dialog.locator('[data-test=import-count]', { hasText: '文件中共 2 个用户。' }).waitFor()
  await dialog.getByText('保留现有用户').click()
  await dialog.locator('[data-test=import-submit]').click()
  await dialog.locator('[data-test=import-result]', { hasText: '新建 1，更新 0，跳过 1' }).waitFor()
  const users = await http(srv.base, 'GET', `/admin/users?app_id=${app.id}&q=imp`, { token: admin })
  assert.equal(users.results.find((u) => u.id === 'imp1').name, 'Ivy, the first')
  assert.equal(users.results.find((u) => u.id === 'imp4').name, '伊万')
  assert.deepEqual(page.problems, [])
  await page.context().close()
})

test('a file over the server request limit says so', async () => {
  const page = await newPage(browser)
  await signIn(page, srv.base, 'admin', PASS)
  const note = 'x'.repeat(3000)
  const users = Array.from({ length: 400 }, (_, i) => ({ id: `big${i}`, metadata: { note } }))
  const dialog = await openImport(page, { name: 'big.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(users)) })
  await dialog.locator('[data-test=import-count]', { hasText: '400 users in the file.' }).waitFor()
  await dialog.locator('[data-test=import-submit]').click()
  await dialog.locator('[data-test=import-errors]', { hasText: 'larger than the server takes in one request' }).waitFor()
  const found = await http(srv.base, 'GET', `/admin/users?app_id=${app.id}&q=big`, { token: admin })
  assert.equal(found.count, 0)
  page.problems = page.problems.filter((p) => !/413/.test(p))
  assert.deepEqual(page.problems, [])
  await page.context().close()
})
