// Stand-in for Payload CMS (Alorig Site Builder's Node.js container).
// No npm dependencies. Listens on $PORT (default 3000).
//   GET /health -> 200 {"status":"ok","service":...}
//   anything else -> 200 {"service":..., "app":..., "host": <Host header>, "path": ...}
// The Host echo lets the deploy tests check wildcard routing (*.sites.alorig.com).
'use strict';
const http = require('http');
const os = require('os');

const port = parseInt(process.env.PORT || '3000', 10);
const app = process.env.APP_NAME || 'reference';
const service = process.env.PAYLOAD_SERVICE_NAME || `${app}-payload`;

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(data),
    'Cache-Control': 'no-store',
  });
  res.end(data);
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/health' || path === '/health/') {
    send(res, 200, { status: 'ok', service, app });
    return;
  }
  send(res, 200, {
    service,
    app,
    host: req.headers.host || null,
    path,
    method: req.method,
    hostname: os.hostname(),
  });
});

server.listen(port, '0.0.0.0', () => {
  console.log(`${service} listening on 0.0.0.0:${port}`);
});

function shutdown(signal) {
  console.log(`${service}: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
