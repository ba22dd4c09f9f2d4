#!/usr/bin/env bash
# Set-up, then the main job: renders a shipped photo to out/demo.mp4 (with a
# cover) using the move the AUTO_EFFECTS planner chooses, and prints where the
# video is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
./build/i2v render photos/Bridge_by_Sander_Klootwijk.jpg -o out/demo.mp4 \
  --option AUTO_EFFECTS --resolution 720p --cover out/demo.jpg "$@"
echo "video: $PWD/out/demo.mp4"
echo "cover: $PWD/out/demo.jpg"
