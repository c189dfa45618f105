#!/usr/bin/env bash
# Draws the app icon's PNG sizes (icons/NxN.png, the hicolor sizes desktops use) from icons/caret.svg with
# ImageMagick; icons/icon.png is the 512 px one. Run it after changing the SVG, and commit the PNGs.
#   bash scripts/icons.sh
set -euo pipefail
cd "$(dirname "$0")/../icons"
for size in 16 22 24 32 48 64 128 256; do
  convert -background none -density 384 caret.svg -resize "${size}x${size}" -strip "PNG32:${size}x${size}.png"
done
convert -background none -density 384 caret.svg -resize 512x512 -strip PNG32:icon.png
