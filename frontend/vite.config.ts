/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontendDir = fileURLToPath(new URL('.', import.meta.url));
const outDir = resolve(frontendDir, '../src/unipo/web');

// Files whose content decides the bundle. tests/web/test_bundle_fresh.py recomputes the same
// hash in Python (no Node needed) and fails when the committed bundle is older than the sources,
// so the two implementations must stay byte-for-byte identical in what they hash.
const HASHED_TOP_LEVEL = ['index.html', 'package.json', 'package-lock.json', 'vite.config.ts', 'tsconfig.json'];

function listFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) found.push(...listFiles(full));
    else found.push(full);
  }
  return found;
}

/** sha256 over sorted POSIX paths: for each file `path\n<byte length>\n<bytes>`. */
export function frontendSourceHash(): { sha256: string; files: number } {
  const paths = [
    ...listFiles(join(frontendDir, 'src')),
    ...HASHED_TOP_LEVEL.map((name) => join(frontendDir, name)).filter((p) => existsSync(p)),
  ].map((p) => relative(frontendDir, p).split(sep).join('/'));
  paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // code-unit order == Python's sorted() for ASCII paths
  const hash = createHash('sha256');
  for (const path of paths) {
    const bytes = readFileSync(join(frontendDir, path));
    hash.update(`${path}\n${bytes.length}\n`, 'utf8');
    hash.update(bytes);
  }
  return { sha256: hash.digest('hex'), files: paths.length };
}

function buildInfo(): Plugin {
  return {
    name: 'unipo-build-info',
    apply: 'build',
    closeBundle() {
      const { sha256, files } = frontendSourceHash();
      writeFileSync(
        join(outDir, 'build-info.json'),
        JSON.stringify({ source_sha256: sha256, source_files: files }, null, 2) + '\n',
      );
    },
  };
}

/**
 * KaTeX's stylesheet lists each font three times (woff2, woff, ttf); every current browser takes
 * woff2, so the other two are dropped before Vite resolves the urls and never reach the bundle.
 */
export function woff2Only(css: string): string {
  return css.replace(/,\s*url\([^)]*\.woff\)\s*format\(["']woff["']\)|,\s*url\([^)]*\.ttf\)\s*format\(["']truetype["']\)/g, '');
}

function katexWoff2Only(): Plugin {
  return {
    name: 'unipo-katex-woff2-only',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]katex[\\/]dist[\\/]katex(\.min)?\.css$/.test(id.split('?')[0])) return null;
      return { code: woff2Only(code), map: null };
    },
  };
}

export default defineConfig({
  plugins: [katexWoff2Only(), svelte(), buildInfo()],
  base: './',
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    // Fonts stay separate files (fetched only when a glyph needs them), never base64 in the CSS.
    assetsInlineLimit: (file) => (/\.woff2$/.test(file) ? false : undefined),
  },
  server: {
    // `npm run dev` talks to a `unipo serve` running on the default port.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    pool: 'threads',
    maxWorkers: 1,
  },
});
