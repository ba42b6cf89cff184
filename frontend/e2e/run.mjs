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

  log('insights')
  await go('/insights', 'Insights')
  await page.getByRole('img', { name: /Throughput per week/ }).waitFor()
  await shoot('insights')
  await page.getByLabel('Work item type').selectOption('Bug')
  await page.waitForURL(/type=Bug/)
  await page
    .getByRole('img', { name: /Throughput per week/ })
    .or(page.getByText('No work items resolved'))
    .waitFor()

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
