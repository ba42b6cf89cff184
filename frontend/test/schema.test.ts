// @vitest-environment node
import { readFileSync } from 'node:fs'
import openapiTS, { astToString } from 'openapi-typescript'
import { expect, it } from 'vitest'

// openapi.json itself is checked against the API by tests/frontend (Python); this checks the client.
it('the checked-in typed client is generated from the checked-in OpenAPI document', async () => {
  const document = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'))
  const generated = astToString(await openapiTS(document))
  const checkedIn = readFileSync(new URL('../src/api/schema.ts', import.meta.url), 'utf8')
  expect(checkedIn.includes(generated.trim()), 'stale: run `bash scripts/frontend generate`').toBe(true)
}, 30_000)
