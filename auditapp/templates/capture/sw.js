// Service worker for offline capture (rendered by auditapp/web/capture.py; served no-cache).
// GETs only, never POSTs. The cache name carries a hash of the shell assets, so a new release gets a new
// cache; the old one is dropped only once the new one holds every file.
const CACHE = {{ cache_name | tojson }};
const PRECACHE = {{ precache | tojson }};
const PREFIX = 'auditapp-shell-';
const SHELL = PRECACHE[0];                 // the capture page, /capture/
const PRECACHED = new Set(PRECACHE);
const NETWORK_TIMEOUT = 4000;              // slow signal: fall back to the cached shell after this long

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    // Fetch everything first; write the cache only when every file came back whole.
    const responses = await Promise.all(PRECACHE.map(async (url) => {
      const response = await fetch(url, { credentials: 'same-origin', cache: 'no-cache' });
      if (!response.ok || response.redirected) throw new Error(`precache ${url}: ${response.status}`);
      return [url, response];
    }));
    const cache = await caches.open(CACHE);
    try {
      await Promise.all(responses.map(([url, response]) => cache.put(url, response)));
    } catch (error) {
      await caches.delete(CACHE);
      throw error;
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const held = await Promise.all(PRECACHE.map((url) => cache.match(url)));
    if (held.every(Boolean)) {
      const names = await caches.keys();
      await Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name)));
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;    // never touch POSTs (WebKit can resend them with an empty body)
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    if (url.pathname === SHELL) event.respondWith(shellFirstFromNetwork(request));
    else event.respondWith(networkOrShell(request));
    return;
  }
  if (PRECACHED.has(url.pathname) || url.pathname.startsWith('/static/')) {
    event.respondWith(cacheFirst(request));
  }
  // Everything else (visit packs, /sync/*) goes to the network untouched and is never cached.
});

function fetchWithTimeout(request) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), NETWORK_TIMEOUT);
    fetch(request).then((response) => { clearTimeout(timer); resolve(response); },
                        (error) => { clearTimeout(timer); reject(error); });
  });
}

async function cachedShell() {
  const cache = await caches.open(CACHE);
  const options = { ignoreSearch: true, ignoreVary: true };
  return (await cache.match(SHELL, options)) || caches.match(SHELL, options);
}

/** /capture/: the network first (fresh page, fresh CSRF token), the cached shell without signal. */
async function shellFirstFromNetwork(request) {
  try {
    const response = await fetchWithTimeout(request);
    if (response.status >= 500) {
      const cached = await cachedShell();
      if (cached) return cached;
    }
    if (response.ok && response.type === 'basic' && !response.redirected) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(SHELL, copy)).catch(() => {});
    }
    return response;
  } catch (error) {
    const cached = await cachedShell();
    return cached || Response.error();
  }
}

/** Other pages: the network; with no signal at all, the capture shell (it lists the audits on the device). */
async function networkOrShell(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = await cachedShell();
    return cached || Response.error();
  }
}

/** Shell assets: the cache first (they are versioned by the cache name), else the network. */
async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  return cached || fetch(request);
}
