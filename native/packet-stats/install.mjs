// `npm install` / `npm ci`: builds the packet-stats addon (libpcap's kernel drop counter for live
// capture, packet_stats.c) with node-gyp. It is optional: when it cannot be built (not Linux, no
// compiler, no Node headers) one line says so and the install goes on; live capture then reports
// the interface's drop counters only. RDP_AUTOPSY_REQUIRE_PACKET_STATS=1 (CI) makes that an error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const required = process.env.RDP_AUTOPSY_REQUIRE_PACKET_STATS === '1';

function giveUp(why) {
  console.log(`rdp-autopsy: packet-stats addon not built (${why}): live capture will report interface drops only, not libpcap's kernel drop counter`);
  process.exit(required ? 1 : 0);
}

if (process.platform !== 'linux') giveUp(`${process.platform} is not Linux`);
// npm sets npm_config_node_gyp to its own node-gyp in lifecycle scripts; else the one beside npm.
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].filter((p) => typeof p === 'string' && p !== '' && existsSync(p));
if (candidates.length === 0) giveUp('node-gyp not found');
// Outside npm (or without npm's nodedir setting), the headers installed with Node are used when they
// are there, rather than a download.
const args = [candidates[0], 'rebuild'];
if (!process.env.npm_config_nodedir && existsSync(path.join(path.dirname(process.execPath), '../include/node/node_api.h'))) {
  args.push(`--nodedir=${path.resolve(path.dirname(process.execPath), '..')}`);
}
const r = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (r.error) giveUp(r.error.message);
if (r.status !== 0) {
  const log = `${r.stderr ?? ''}\n${r.stdout ?? ''}`;
  if (/gyp ERR! find Python|Could not find any Python/.test(log)) giveUp('node-gyp found no Python');
  if (/node_api\.h|common\.gypi|network connectivity|nodedir/i.test(log)) giveUp("Node's headers are missing");
  if (/\b(cc|gcc|g\+\+|c\+\+|make)\b[^\n]*(not found|ENOENT)/.test(log)) giveUp('no C compiler or make');
  const err = log.split('\n').map((l) => l.trim()).find((l) => /\berror\b/i.test(l) && !/^gyp ERR! (stack|cwd|node|System|command|not ok)/.test(l));
  giveUp(err ? err.replace(/^gyp ERR! /, '').slice(0, 160) : `node-gyp exited with ${r.status}`);
}
if (!existsSync(path.join(here, 'build/Release/packet_stats.node'))) giveUp('node-gyp produced no packet_stats.node');
