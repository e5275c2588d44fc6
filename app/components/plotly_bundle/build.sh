#!/usr/bin/env bash
# Rebuilds app/static/plotly-hm.min.js, the plotly.js bundle of the in-place charts
# (app/components/plotly_frame.py): plotly.js's core (scatter, layout, legend, modebar, shapes,
# annotations, colour bars, PNG export) plus the bar and heatmap traces, minified by esbuild.
#
# Why not plotly.js's own "cartesian" partial bundle: it also carries box, violin, histogram*,
# contour, pie, image, scatterternary and the world-calendars component, and a browser spends about
# 0.5 s loading and evaluating it against about 0.2 s for this one (headless Chromium, 2 cores).
#
# Needs Node.js >= 18 and the npm registry; run from anywhere: bash app/components/plotly_bundle/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../static/plotly-hm.min.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
version="$(node -p "require('$work/node_modules/plotly.js/package.json').version")"
"$work/node_modules/.bin/esbuild" "$work/entry.js" --bundle --minify --format=iife --global-name=Plotly \
  --target=es2016 --define:global=window --define:define.amd=false --alias:stream=stream-browserify \
  --loader:.css=empty --legal-comments=eof --log-level=warning \
  --banner:js="/** plotly.js v$version (core + bar + heatmap; built by app/components/plotly_bundle/build.sh) | Copyright 2012-2026, Plotly, Inc. | MIT License: PLOTLY_LICENSE.txt */" \
  --outfile="$out"
echo "wrote $out ($(wc -c <"$out") bytes, plotly.js $version)"
