/// <reference types="vitest/config" />
import { defineConfig } from 'vite'

// The build goes into the Python package, so `quarry up` and `quarry api` serve it without Node.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: '../services/backend/quarry_backend/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': { target: 'http://127.0.0.1:8000', ws: true } },
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
    pool: 'threads',
    poolOptions: { threads: { maxThreads: 2, minThreads: 1 } },
  },
})
