#!/usr/bin/env node
// Build the static frontend without npm dependencies: copy src/ to dist/,
// giving JS and CSS content-hashed names (cacheable forever by Caddy) and
// rewriting index.html to reference them. Stand-in for each app's Vite build.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

function hashed(file, ext) {
  const data = fs.readFileSync(path.join(src, file));
  const digest = crypto.createHash('sha256').update(data).digest('hex').slice(0, 12);
  const name = `assets/${path.basename(file, ext)}.${digest}${ext}`;
  fs.writeFileSync(path.join(dist, name), data);
  return name;
}

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });
const script = hashed('app.js', '.js');
const style = hashed('style.css', '.css');
const html = fs.readFileSync(path.join(src, 'index.html'), 'utf8')
  .replace('%SCRIPT%', '/' + script)
  .replace('%STYLE%', '/' + style);
fs.writeFileSync(path.join(dist, 'index.html'), html);
fs.writeFileSync(path.join(dist, 'build-manifest.json'),
  JSON.stringify({ 'app.js': script, 'style.css': style }, null, 2) + '\n');
console.log(`frontend built: ${script}, ${style}`);
