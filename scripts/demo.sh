#!/usr/bin/env bash
# Set-up, then the main job: `i2v serve` on the embedded default (SQLite and a
# folder, in ./i2v-demo) with a demo user. The first run creates the user with
# 1,000 credits and prints its API key once (only its hash is stored); every run
# prints the Developer Space's address and serves until Ctrl-C.
#   I2V_LISTEN   address to serve on (default 127.0.0.1:8080)
#   I2V_DEMO     data directory (default ./i2v-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

data=${I2V_DEMO:-$PWD/i2v-demo}
listen=${I2V_LISTEN:-127.0.0.1:8080}
mkdir -p "$data"
if [ ! -s "$data/demo-user" ]; then
  made=$(./build/i2v admin --data "$data" user create --name demo --credits 1000)
  echo "$made" | sed -n 's/^user_id=//p' >"$data/demo-user"
  echo
  echo "demo user created, 1,000 credits. Its API key is shown this once; keep it:"
  echo "$made" | sed -n 's/^\(user_id\|api_key\)=/  \1 = /p'
else
  echo
  echo "demo user: $(cat "$data/demo-user") (its key was printed when it was made; another one:"
  echo "  ./build/i2v admin --data $data key create $(cat "$data/demo-user"))"
fi

# Developer Space sessions are signed with this secret: kept with the data so
# that a sign-in survives a restart of the demo.
if [ -z "${I2V_SESSION_SECRET:-}" ]; then
  [ -s "$data/session-secret" ] || (umask 077; openssl rand -base64 32 >"$data/session-secret")
  I2V_SESSION_SECRET=$(cat "$data/session-secret")
  export I2V_SESSION_SECRET
fi

./build/i2v serve --data "$data" --listen "$listen" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://$listen/healthz" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
  sleep 0.1
done
echo
echo "Developer Space: http://$listen/   (sign in with the API key; Ctrl-C stops the server)"
echo "APIs: http://$listen/api/i2v/v1/ (native), /api/v1/imageToVideo/ (v1), /api/animation/v2/ (v2)"
echo "Render without a server: ./build/i2v render PHOTO -o OUT.mp4 (see README.md)"
wait $pid
