// The dashboard end to end in Debian's Chromium (playwright-core, no downloaded browser), against a
// running Quarry. tests/e2e/test_dashboard.py starts the platform and the imitation Jira servers,
// then runs this script with their addresses in the environment.
import { chromium } from 'playwright-core'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const env = process.env
const BASE = env.QUARRY_URL
const OUT = env.ARTIFACTS ?? 'test-results/dashboard'
const CHROMIUM = env.CHROMIUM ?? '/usr/bin/chromium'
const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, narrow: { width: 390, height: 844 } }
const LONG = 60_000

mkdirSync(OUT, { recursive: true })
const profile = mkdtempSync(join(tmpdir(), 'quarry-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: VIEWPORTS.desktop,
  timezoneId: 'UTC',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
})
const page = context.pages()[0] ?? (await context.newPage())
page.setDefaultTimeout(20_000)
const problems = []
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
page.on(
  'console',
  (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && problems.push(`console: ${m.text()}`),
)

let step = ''
function log(text) {
  step = text
  console.log(`e2e: ${text}`)
}
function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`)
}
const heading = (name) => page.getByRole('heading', { level: 1, name })

/** axe-core in the page: no serious or critical violation. */
async function accessible(name) {
  // Evaluated over the DevTools protocol, which the page's CSP (no inline scripts) does not govern.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe)
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }))
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  check(
    bad.length === 0,
    `axe on ${name}: ${bad
      .map(
        (v) =>
          `${v.id} (${v.nodes
            .map((n) => n.target.join(' '))
            .slice(0, 3)
            .join(', ')})`,
      )
      .join('; ')}`,
  )
}

/** Screenshots at 1280 px and 390 px, each checked with axe and for sideways scrolling of the page. */
async function shoot(name) {
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size)
    await page.waitForTimeout(150)
    await accessible(`${name} (${label})`)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    check(overflow <= 1, `${name} is ${overflow}px wider than a ${size.width}px screen`)
    await page.screenshot({ path: join(OUT, `${name}-${label}.png`), fullPage: true })
  }
  await page.setViewportSize(VIEWPORTS.desktop)
}

/** Waits, without touching the page, until the run panel shows a run other than `old` Succeeded. */
async function nextRunSucceeds(old) {
  await page.waitForFunction(
    (previous) =>
      [...document.querySelectorAll('h2')].some(
        (h) => /run #\d+/.test(h.textContent) && h.textContent !== previous && h.textContent.includes('Succeeded'),
      ),
    old,
    { timeout: 180_000, polling: 250 },
  )
}

async function go(path, title) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title, exact: true }).click()
  await page.waitForURL((u) => u.pathname === path)
}

try {
  log('the login page, its inline checks, and a wrong password')
  await page.goto(`${BASE}/jobs`)
  await page.getByRole('heading', { name: 'Log in' }).waitFor()
  await shoot('login')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByText('Enter the email you log in with.').waitFor()
  await page.getByLabel('Email').fill(env.QUARRY_EMAIL)
  await page.getByLabel('Password').fill('not the password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('alert').filter({ hasText: 'wrong email or password' }).waitFor()

  log('log in: back to the page asked for')
  await page.getByLabel('Password').fill(env.QUARRY_PASSWORD)
  await page.getByRole('button', { name: 'Log in' }).click()
  await heading('Jobs').waitFor()
  await go('/', 'Home')
  await heading('Home').waitFor()
  await page.getByRole('link', { name: 'slow-sync' }).first().waitFor()
  await shoot('home')

  log('create an integration: inline checks, then the API 422 on the field it names')
  await go('/integrations', 'Integrations')
  await page.getByRole('button', { name: 'New integration' }).click()
  const form = page.getByRole('form', { name: 'New integration' })
  await form.getByLabel('Name').fill('e2e-jira')
  await form.getByLabel('Base URL').fill('not a url')
  await form.getByRole('button', { name: 'Create integration' }).click()
  await form.getByText('A URL starting with http:// or https://.').waitFor()
  await form.getByText('The API token is required for a new integration.').waitFor()
  await form.getByLabel('Base URL').fill(env.JIRA_URL)
  await form.getByLabel('Projects').fill('ENG, 9OPS')
  await form.getByLabel('Account email').fill(env.JIRA_EMAIL)
  await form.getByLabel('API token').fill(env.JIRA_TOKEN)
  await form.getByRole('button', { name: 'Create integration' }).click()
  const projects = form.getByLabel('Projects')
  await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]') !== null)
  check((await projects.getAttribute('aria-invalid')) === 'true', 'the 422 is not on the Projects field')
  await shoot('integration-form-errors')
  await projects.fill('ENG, OPS')
  await form.getByRole('button', { name: 'Create integration' }).click()
  await page.getByRole('row', { name: /e2e-jira/ }).waitFor()

  log('test the connection')
  await page.getByRole('button', { name: 'Test connection of e2e-jira' }).click()
  await page
    .getByRole('row', { name: /e2e-jira/ })
    .getByText(/^Connected: /)
    .waitFor()
  const row = await page.getByRole('row', { name: /e2e-jira/ }).innerText()
  check(row.includes('set') && !row.includes(env.JIRA_TOKEN), 'credentials are shown only as set / not set')
  await shoot('integrations')

  log('edit the integration: the stored token stays when none is typed')
  await page.getByRole('button', { name: 'Edit e2e-jira' }).click()
  const edit = page.getByRole('form', { name: 'Edit e2e-jira' })
  await edit.getByText('Currently set; leave empty to keep it.').waitFor()
  await edit.getByLabel('Requests per hour').fill('many')
  await edit.getByRole('button', { name: 'Save' }).click()
  await edit.getByText('A whole number of at least 1.').waitFor()
  await edit.getByLabel('Requests per hour').fill('2000')
  await edit.getByRole('button', { name: 'Save' }).click()
  await edit.waitFor({ state: 'detached' })
  await page.getByRole('button', { name: 'Test connection of e2e-jira' }).click()
  await page
    .getByRole('row', { name: /e2e-jira/ })
    .getByText(/^Connected: /)
    .waitFor()

  log('create a job with a schedule: the next run times show as it is typed')
  await go('/jobs', 'Jobs')
  await page.getByRole('button', { name: 'New job' }).click()
  const jobForm = page.getByRole('form', { name: 'New job' })
  await jobForm.getByLabel('Name').fill('e2e-sync')
  await jobForm.getByLabel('Integration').selectOption('e2e-jira')
  for (const entity of ['projects', 'issues', 'sprints']) await jobForm.getByLabel(entity, { exact: true }).check()
  await jobForm.getByLabel('Schedule (cron, UTC)').fill('*/15 * * 13 *')
  await jobForm.getByText('"13" is outside 1-12').waitFor()
  await jobForm.getByLabel('Schedule (cron, UTC)').fill('0 3 * * *')
  const next = await jobForm.locator('.next-runs').innerText()
  check(next.split(' · ').length === 5 && next.includes('03:00:00'), `next runs: ${next}`)
  await shoot('job-form')
  await jobForm.getByRole('button', { name: 'Create job' }).click()
  await heading(/e2e-sync/).waitFor()

  log('watch the first run reach Succeeded without reloading the page')
  await page.evaluate(() => (window.__sameDocument = true))
  const phase = page.getByTestId('run-phase')
  await phase.getByText('Succeeded').waitFor({ timeout: 180_000 })
  await page.getByRole('progressbar', { name: 'issues loaded' }).waitFor()
  await shoot('job')

  log('start another run from the page and watch it too')
  const before = await page.getByRole('heading', { level: 2, name: /run #\d+/ }).innerText()
  await page.getByRole('button', { name: 'Start run' }).click()
  await nextRunSucceeds(before)

  log('re-transform from the stored raw pages, then pause and resume')
  const last = await page.getByRole('heading', { level: 2, name: /run #\d+/ }).innerText()
  await page.getByRole('button', { name: 'Re-transform' }).click()
  await nextRunSucceeds(last)
  await page.getByText(/^retransform · /).waitFor()
  await page.getByRole('button', { name: 'Pause' }).click()
  await heading(/e2e-sync/)
    .getByText('Suspended')
    .waitFor()
  await page.getByRole('button', { name: 'Resume' }).click()
  await page.getByRole('button', { name: 'Pause' }).waitFor()
  check(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded')
  await page
    .getByRole('table', { name: /Runs of e2e-sync/ })
    .getByRole('row')
    .nth(2)
    .waitFor()

  log("a run's raw pages and one page's JSON")
  await page
    .getByRole('table', { name: /Runs of e2e-sync/ })
    .getByRole('link')
    .last()
    .click()
  await heading(/Run #\d+/).waitFor()
  await page
    .getByRole('button', { name: /Show raw page/ })
    .first()
    .click()
  const json = await page.getByLabel(/Response of raw page/).innerText()
  check(json.trim().startsWith('{') || json.trim().startsWith('['), 'the raw page shows its JSON')
  await shoot('run')

  log('open the work items and search them')
  await go('/data', 'Work items')
  const items = page.getByRole('table', { name: /Work items/ })
  await items.getByRole('row').nth(1).waitFor()
  const key = (await items.getByRole('rowheader').first().innerText()).trim()
  const title = (await items.getByRole('row').nth(1).getByRole('cell').first().innerText()).trim()
  await page.getByLabel('Search keys and titles').fill(key)
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await page
    .getByRole('table', { name: `Work items matching “${key}”` })
    .getByRole('rowheader', { name: key, exact: true })
    .waitFor()
  await page.getByLabel('Search keys and titles').fill('no-such-item-anywhere')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await page.getByText('Nothing matches “no-such-item-anywhere”.').waitFor()
  await page.getByLabel('Search keys and titles').fill('')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await items.getByRole('row').nth(1).waitFor()
  await shoot('work-items')

  log('a long job waits on the rate limit; stop it and see it stop')
  await page.goto(`${BASE}/jobs/slow-sync`)
  await page.getByText(/^Waiting: .* until /).waitFor({ timeout: LONG })
  await shoot('job-waiting')
  await page.getByRole('button', { name: 'Stop' }).click()
  await page.getByTestId('run-phase').getByText('Cancelled').waitFor({ timeout: LONG })

  log('a dead letter, replayed')
  await go('/queues', 'Queues')
  const letter = page.getByTestId(`dead-letter-${env.DEAD_LETTER_ID}`)
  await letter.waitFor()
  await page.getByRole('table', { name: 'Depth per stage (all tenants)' }).waitFor()
  await shoot('queues')
  await page.getByRole('button', { name: `Replay dead letter ${env.DEAD_LETTER_ID}` }).click()
  await page.getByText(`Dead letter ${env.DEAD_LETTER_ID} replayed.`).waitFor()
  await letter.waitFor({ state: 'detached' })

  log('type mappings and hierarchies: inline checks, then the pages')
  await page.evaluate(() => (window.__sameDocument = true))
  await go('/mappings/types', 'Mappings')
  await heading('Work item type mappings').waitFor()
  await page
    .getByRole('table', { name: /Source types/ })
    .getByRole('row')
    .nth(1)
    .waitFor()
  await page.getByRole('button', { name: 'New type mapping' }).click()
  const typeForm = page.getByRole('form', { name: 'New type mapping' })
  await typeForm.getByRole('button', { name: 'Save' }).click()
  await typeForm.getByText("The source's type name.").waitFor()
  check((await typeForm.getByLabel('Source type').getAttribute('aria-invalid')) === 'true', 'error on Source type')
  await typeForm.getByRole('button', { name: 'Cancel' }).click()
  await shoot('mappings-types')
  await page.getByRole('navigation', { name: 'Mappings' }).getByRole('link', { name: 'Hierarchies' }).click()
  await heading('Work item hierarchies').waitFor()
  await page
    .getByRole('table', { name: /Levels of the standard types/ })
    .getByRole('row')
    .nth(1)
    .waitFor()
  await shoot('mappings-hierarchies')

  log("edit a status mapping: the API's 422 on its field, then save and re-transform, watching the run")
  await page.getByRole('navigation', { name: 'Mappings' }).getByRole('link', { name: 'Statuses' }).click()
  await heading('Status mappings').waitFor()
  const mapButton = page.getByRole('button', { name: /^Map status / }).first()
  await mapButton.waitFor()
  const [, status, type] = (await mapButton.getAttribute('aria-label')).match(/^Map status (.+) of (.+)$/)
  check(
    (await page.getByTestId(`status-${type}-${status}`).innerText()).includes('default'),
    'an unmapped status shows its default',
  )
  await mapButton.click()
  const statusForm = page.getByRole('form', { name: `Map ${status} (${type})` })
  await statusForm.getByLabel('Work item type').fill('X'.repeat(70))
  await statusForm.getByRole('button', { name: 'Save' }).click()
  const typeField = statusForm.getByLabel('Work item type')
  await page.waitForFunction(() => document.querySelector('form [aria-invalid="true"]') !== null)
  check((await typeField.getAttribute('aria-invalid')) === 'true', 'the 422 is not on the Work item type field')
  await shoot('status-form-errors')
  await typeField.fill(type)
  await statusForm.getByLabel('Workflow step').fill('Checked by e2e')
  await statusForm.getByRole('button', { name: 'Save' }).click()
  const offer = page.getByRole('region', { name: 'Saved the status mapping' })
  await offer.waitFor()
  const slowJob = offer.getByLabel('slow-sync')
  if (await slowJob.count()) await slowJob.uncheck()
  check(await offer.getByLabel('e2e-sync').isChecked(), 'the affected job is offered')
  await offer.getByRole('button', { name: 'Re-transform now' }).click()
  await offer.getByRole('link', { name: /^run #\d+$/ }).waitFor({ timeout: LONG })
  await offer.getByTestId('retransform-phase-e2e-sync').getByText('Succeeded').waitFor({ timeout: 180_000 })
  await page.getByRole('button', { name: `Edit status ${status} of ${type}` }).waitFor()
  check(
    (await page.getByTestId(`status-${type}-${status}`).innerText()).includes('Checked by e2e'),
    'the mapping shows',
  )
  check(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded')
  await shoot('mappings-statuses')
  await offer.getByRole('button', { name: 'Close' }).click()

  log('a workflow: steps reordered by keyboard, by buttons and by dragging; points checked inline')
  await page.getByRole('navigation', { name: 'Mappings' }).getByRole('link', { name: 'Workflows' }).click()
  await heading('Workflows').waitFor()
  await page.getByRole('button', { name: 'New workflow' }).click()
  const flowForm = page.getByRole('form', { name: 'New workflow' })
  await flowForm.getByLabel('Name', { exact: true }).fill('delivery')
  for (const [i, name] of ['Backlog', 'Review', 'Doing', 'Done'].entries()) {
    if (i > 0) await flowForm.getByRole('button', { name: 'Add a step' }).click()
    await flowForm.getByLabel(`Name of step ${i + 1}`).fill(name)
  }
  await flowForm.getByLabel('Standard status of step 1').selectOption('To Do')
  await flowForm.getByLabel('Standard status of step 4').selectOption('Done')
  const stepNames = () =>
    flowForm
      .locator('li.step input[type=text], li.step input:not([type])')
      .evaluateAll((els) => els.map((e) => e.value))
  await flowForm.getByLabel('Name of step 3').focus()
  await page.keyboard.press('Alt+ArrowUp')
  await flowForm.getByText('Doing moved to position 2 of 4.').waitFor()
  check((await stepNames()).join() === 'Backlog,Doing,Review,Done', `keyboard move: ${await stepNames()}`)
  check(
    await flowForm.getByLabel('Name of step 2').evaluate((e) => e === document.activeElement),
    'focus stays on the moved step',
  )
  await flowForm.getByRole('button', { name: 'Move Done up' }).click()
  check((await stepNames()).join() === 'Backlog,Doing,Done,Review', `button move: ${await stepNames()}`)
  await flowForm.getByTestId('step-3').locator('.handle').dragTo(flowForm.getByTestId('step-2'))
  check((await stepNames()).join() === 'Backlog,Doing,Review,Done', `drag: ${await stepNames()}`)
  await flowForm.getByTestId('step-3').getByLabel('Commitment point').check()
  await flowForm.getByTestId('step-0').getByLabel('Delivery point').check()
  await flowForm.getByRole('button', { name: 'Save workflow' }).click()
  await flowForm.getByText('The commitment point must not come after the delivery point.').waitFor()
  await shoot('workflow-form')
  await flowForm.getByTestId('step-1').getByLabel('Commitment point').check()
  await flowForm.getByTestId('step-3').getByLabel('Delivery point').check()
  await flowForm.getByRole('button', { name: 'Save workflow' }).click()
  await page.getByRole('region', { name: 'Saved the workflow' }).getByRole('button', { name: 'Not now' }).click()
  await page.getByRole('heading', { level: 2, name: /delivery/ }).waitFor()
  await shoot('mappings-workflows')

  log('semantic search: the collection fills, then the work items are found by their words')
  await go('/search', 'Search')
  await heading('Search').waitFor()
  await page.waitForFunction(
    () => {
      const size = document.querySelector('[data-testid="collection-size"]')?.textContent ?? ''
      return /^\d/.test(size) && Number(size.replace(/,/g, '')) > 0 && !document.body.textContent.includes('waiting)')
    },
    null,
    { timeout: 120_000, polling: 500 },
  )
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await page.getByText('Type what to look for, in words.').waitFor()
  await page.getByLabel('Search by meaning').fill(title)
  await page.getByLabel('Look in').selectOption('work_item')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  const hits = page.getByRole('list', { name: `Results for “${title}”` })
  await hits.getByRole('listitem').first().waitFor({ timeout: LONG })
  const top = (await hits.getByRole('listitem').first().getByRole('link').first().innerText()).trim()
  check(top === key, `the item titled "${title}" (${key}) comes first, not ${top}`)
  await shoot('search')

  log('insights by project and type')
  await go('/insights', 'Insights')
  await page.getByRole('img', { name: /Throughput per week/ }).waitFor()
  await shoot('insights')
  await page.getByLabel('Project').selectOption('ENG')
  await page.waitForURL(/project=ENG/)
  await page.getByLabel('Work item type').selectOption({ index: 1 })
  await page.waitForURL(/type=/)
  await page
    .getByRole('img', { name: /Throughput per week/ })
    .or(page.getByText('No work items resolved'))
    .waitFor()

  log('users and API keys: a user added (inline check first) and given a role, a key shown once and revoked')
  await go('/admin', 'Users')
  await heading('Users and API keys').waitFor()
  await page.getByRole('button', { name: 'New user' }).click()
  const userForm = page.getByRole('form', { name: 'New user' })
  await userForm.getByLabel('Email').fill('dev@ui-e2e.example')
  await userForm.getByLabel('Password').fill('short')
  await userForm.getByRole('button', { name: 'Save' }).click()
  await userForm.getByText('At least 12 characters.').waitFor()
  await userForm.getByLabel('Password').fill('a long enough password')
  await userForm.getByRole('button', { name: 'Save' }).click()
  await page.getByRole('row', { name: /dev@ui-e2e\.example/ }).waitFor()
  await page.getByLabel('Role of dev@ui-e2e.example').selectOption('editor')
  await page.getByText('dev@ui-e2e.example: now editor.').waitFor()
  await page.getByRole('button', { name: 'New API key' }).click()
  await page.getByRole('form', { name: 'New API key' }).getByLabel('Name').fill('e2e-ci')
  await page.getByRole('form', { name: 'New API key' }).getByRole('button', { name: 'Save' }).click()
  const newKey = await page.getByRole('region', { name: 'The new API key' }).getByLabel('Key').inputValue()
  check(newKey.startsWith('qk_'), `the new key is shown once: ${newKey.slice(0, 3)}`)
  await shoot('admin')
  await page.getByRole('button', { name: 'Done' }).click()
  check(!(await page.content()).includes(newKey), 'the key is not shown again')
  page.once('dialog', (dialog) => dialog.accept())
  await page.getByRole('button', { name: 'Revoke API key e2e-ci' }).click()
  await page.getByText('API key e2e-ci revoked.').waitFor()

  log('preferences: a 422 on the time zone field, then dark theme and a time zone')
  await go('/preferences', 'Preferences')
  await page.getByLabel('Time zone').fill('Mars/Olympus')
  await page.getByRole('button', { name: 'Save preferences' }).click()
  await page.getByText(/not an IANA time zone/).waitFor()
  await page.getByLabel('Time zone').fill('Asia/Tokyo')
  await page.getByLabel('dark').check()
  await page.getByRole('button', { name: 'Save preferences' }).click()
  await page.getByText('Preferences saved.').waitFor()
  check((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'dark theme applied')
  await shoot('preferences')
  await go('/', 'Home')
  await heading('Home').waitFor()
  await page.locator('time').first().waitFor()
  const shown = await page
    .locator('time')
    .first()
    .evaluate((t) => [t.getAttribute('datetime'), t.textContent])
  const tokyo = new Date(new Date(shown[0]).getTime() + 9 * 3600_000).toISOString().replace('T', ' ').slice(0, 19)
  check(shown[1] === tokyo, `times in the chosen zone: ${shown[1]} for ${shown[0]}`)
  await shoot('home-dark')

  log('keyboard: the skip link and the navigation work without a mouse (after a reload: preferences stay)')
  await page.reload()
  await heading('Home').waitFor()
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark', null, { timeout: 5000 })
  await page.keyboard.press('Tab')
  check(
    (await page.evaluate(() => document.activeElement?.textContent)) === 'Skip to content',
    'first tab stop is the skip link',
  )
  await page.keyboard.press('Tab')
  await page.keyboard.press('Tab')
  await page.keyboard.press('Enter')
  await heading('Integrations').waitFor()

  log('log out')
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.getByRole('heading', { name: 'Log in' }).waitFor()

  log('a viewer reads integrations, jobs and dead letters without the controls the API would refuse')
  const viewer = { email: 'viewer@ui-e2e.example', password: 'a viewer password' }
  const admin = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: env.QUARRY_EMAIL, password: env.QUARRY_PASSWORD }),
  }).then((r) => r.json())
  const made = await fetch(`${BASE}/api/v1/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...viewer, role: 'viewer' }),
  })
  check(made.status === 201, `the viewer is created: ${made.status}`)
  await page.getByLabel('Email').fill(viewer.email)
  await page.getByLabel('Password').fill(viewer.password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await heading('Home').waitFor()
  await go('/integrations', 'Integrations')
  await page.getByRole('row', { name: /e2e-jira/ }).waitFor()
  await page.getByText('Creating, changing and testing integrations needs the editor role.').waitFor()
  const buttonsOf = async () =>
    (await page.getByRole('main').getByRole('button').allInnerTexts()).filter((t) => t !== 'Log out')
  check((await buttonsOf()).length === 0, `no controls on Integrations: ${await buttonsOf()}`)
  await shoot('integrations-viewer')
  await go('/jobs', 'Jobs')
  await page.getByRole('link', { name: 'e2e-sync' }).click()
  await heading(/e2e-sync/).waitFor()
  await page.getByText('Starting, stopping and scheduling this job needs the editor role.').waitFor()
  await page.getByRole('heading', { level: 2, name: /run #\d+/ }).waitFor()
  check((await buttonsOf()).length === 0, `no controls on the job: ${await buttonsOf()}`)
  check((await page.getByRole('form', { name: 'Schedule' }).count()) === 0, 'no schedule editor')
  await shoot('job-viewer')
  await go('/queues', 'Queues')
  await page.getByText('Replaying or discarding a dead letter needs the editor role.').waitFor()
  check((await page.getByRole('button', { name: /Replay|Discard/ }).count()) === 0, 'no replay or discard')
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.getByRole('heading', { name: 'Log in' }).waitFor()
  check(problems.length === 0, problems.join('\n'))
  console.log('e2e: passed')
} catch (error) {
  await page.screenshot({ path: join(OUT, 'failure.png'), fullPage: true }).catch(() => undefined)
  console.error(`e2e: FAILED at "${step}": ${error.message}`)
  if (problems.length) console.error(problems.join('\n'))
  process.exitCode = 1
} finally {
  await context.close()
  rmSync(profile, { recursive: true, force: true })
}
