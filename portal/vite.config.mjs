// Builds the web portal (Y.4702 8.8) into dist/portal/, which the gateway serves at /.
// Run through scripts/build-portal.mjs (npm run build, npm install, npm start).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The object tree names objects and resources from the OMA registry the gateway uses
 * (protocol/model/objects). Their long descriptions are five sixths of that file and the portal
 * shows none of them, nor the range enumerations: drop them from the bundle.
 */
function objectDefinitionsWithoutDescriptions() {
  return {
    name: 'edgedm-object-definitions',
    enforce: 'pre',
    transform(code, id) {
      if (!/protocol\/model\/objects\/(definitions\.generated|edgedm-objects)\.ts$/.test(id)) return null;
      return { code: code.replace(/^\s*(?:description|rangeEnumeration): '(?:[^'\\]|\\.)*',\n/gm, ''), map: null };
    },
  };
}

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  plugins: [objectDefinitionsWithoutDescriptions()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/portal', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npx vite portal` for development against a gateway on the default port.
    proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
});
