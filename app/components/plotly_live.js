// A Plotly chart that updates in place: a Streamlit components-v2 renderer (no iframe, no build step).
//
// Streamlit calls the default export when the element mounts and again whenever its data changes,
// with the same `parentElement` for the same key. The figure is drawn with Plotly.react on ONE div
// kept in that element, so a refresh neither flickers nor loses the user's zoom (the caller keeps
// layout.uirevision fixed).
//
// plotly.js is loaded once per page, into the page itself, by `loadPlotly` (plotly_loader.js, put
// before this file by plotly_frame.py); every chart on the page shares it. `data` is one UTF-8 JSON
// document, as bytes: {"figure": {...}, "config": {...}, "height": px}.

// A "Full screen" button on each chart's toolbar (st.plotly_chart charts have Streamlit's own), for
// a projector in a lecture; Esc leaves. One shared button object: Plotly.react sees the same config.
const FULLSCREEN_BUTTON = {
  name: "fullscreen", title: "Full screen (Esc to leave)",
  icon: {width: 24, height: 24, path: "M3 3h7v2H5v5H3zm11 0h7v7h-2V5h-5zM3 14h2v5h5v2H3zm16 0h2v7h-7v-2h5z"},
  click: function (gd) {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (gd.requestFullscreen) gd.requestFullscreen();
  },
};

// "Download as SVG" beside Plotly's PNG camera: the same size and name as the PNG (the config's
// toImageButtonOptions: a 1920 × 1080 slide, charts.style.plotly_config), as a vector image.
const SVG_BUTTON = {
  name: "downloadSvg", title: "Download plot as SVG (1920 × 1080, for slides)",
  icon: {width: 24, height: 24, path: "M5 20h14v-2H5zM19 9h-4V3H9v6H5l7 7z"},
  click: function (gd) {
    const opts = Object.assign({}, (gd._context && gd._context.toImageButtonOptions) || {}, {format: "svg"});
    opts.width = opts.width || 1920; opts.height = opts.height || 1080;
    opts.filename = opts.filename || "hypermask_chart";
    window.Plotly.downloadImage(gd, opts);
  },
};

const EXTRA_BUTTONS = [SVG_BUTTON, FULLSCREEN_BUTTON];

function chartHeight(div) {
  return document.fullscreenElement === div ? window.innerHeight : div.__hm.height;
}

if (!window.__hmFullscreenHooked) {  // once per page: entering or leaving full screen resizes the chart
  window.__hmFullscreenHooked = true;
  document.addEventListener("fullscreenchange", function () {
    for (const div of document.querySelectorAll(".hm-live-chart")) {
      const full = document.fullscreenElement === div;
      if (div.__hm && (full || div.__hm.full)) {  // redrawn at its new size, zoom kept (uirevision)
        div.__hm.full = full;
        if (div.__hm.pending === null) div.__hm.pending = div.__hm.last;
        div.__hm.last = null;
        draw(div);
      }
    }
  });
}

// Draws the newest pending figure; while a Plotly.react runs, later figures replace each other in
// `pending` (only the newest is drawn next), and a figure identical to the last drawn is skipped.
function draw(div) {
  const st = div.__hm;
  if (st.drawing || st.pending === null || !window.Plotly) return;
  const raw = st.pending; st.pending = null;
  if (raw === st.last) return;
  let args;
  try { args = JSON.parse(raw); } catch (err) { return; }
  st.drawing = true; st.last = raw;
  if (st.placeholder) { st.placeholder.remove(); st.placeholder = null; }
  const fig = args.figure || {};
  st.height = args.height || (fig.layout && fig.layout.height) || 450;
  const layout = Object.assign({}, fig.layout, {height: chartHeight(div), autosize: true});
  div.style.height = st.height + "px";  // (a full-screen element is sized by the browser)
  const config = Object.assign({}, args.config || {}, {modeBarButtonsToAdd: EXTRA_BUTTONS});
  window.Plotly.react(div, fig.data || [], layout, config).finally(function () { st.drawing = false; draw(div); });
}

// A chart that has nothing to plot yet (plotly_frame.payload's "empty", written first) and has never
// been drawn waits at least this long, and then for a moment the browser is idle, before its empty
// axes are drawn: drawing them would hold up the browser just when a Start's first curve is on its way. Its height is kept meanwhile, so nothing below moves.
const EMPTY_PREFIX = '{"empty":true';
const EMPTY_DELAY_MS = 1500;
const EMPTY_IDLE_MS = 3000;  // the longest wait for an idle moment after that

function whenIdle(fn) {
  if (window.requestIdleCallback) window.requestIdleCallback(fn, {timeout: EMPTY_IDLE_MS});
  else fn();
}

export default function (component) {
  const raw = new TextDecoder().decode(component.data);  // UTF-8 JSON bytes (plotly_frame.payload)
  const parent = component.parentElement;
  let div = parent.querySelector(":scope > .hm-live-chart");
  if (!div) {
    div = document.createElement("div");
    div.className = "hm-live-chart";
    div.style.width = "100%";
    div.style.background = "white";  // also behind the chart in full screen
    div.__hm = {pending: null, drawing: false, last: null, width: 0, height: 450, full: false, later: 0, placeholder: null};
    parent.appendChild(div);
    // a width change (window, sidebar, wrapping row) resizes the plot; observes only this div
    new ResizeObserver(function (entries) {
      const w = Math.round(entries[0].contentRect.width);
      if (w && w !== div.__hm.width) {
        div.__hm.width = w;
        if (div.data && window.Plotly) window.Plotly.Plots.resize(div);
      }
    }).observe(div);
  }
  div.__hm.pending = raw;
  clearTimeout(div.__hm.later);
  if (raw.startsWith(EMPTY_PREFIX) && div.__hm.last === null) {
    if (!div.__hm.placeholder) placeholder(div, raw);
    div.__hm.later = setTimeout(function () { whenIdle(function () { show(div); }); }, EMPTY_DELAY_MS);
    return;
  }
  show(div);
}

// What an empty chart shows until it is drawn: its title and "waiting for data…", at its height (a
// few DOM nodes, no Plotly). An empty figure is small: parsing it costs nothing.
function placeholder(div, raw) {
  let args = {};
  try { args = JSON.parse(raw); } catch (err) { /* the height and text below do without it */ }
  const layout = (args.figure && args.figure.layout) || {};
  const title = (layout.title && layout.title.text) || "";
  div.style.height = (args.height || layout.height || 450) + "px";
  const box = document.createElement("div");
  box.className = "hm-chart-placeholder";
  box.style.cssText = "height:100%;box-sizing:border-box;padding:14px 20px;font-family:'Open Sans',verdana,arial," +
    "sans-serif;color:#444;display:flex;flex-direction:column;";
  const head = document.createElement("div");
  head.style.fontSize = "17px"; head.textContent = title.replace(/<[^>]*>/g, "");
  const note = document.createElement("div");
  note.style.cssText = "flex:1;display:flex;align-items:center;justify-content:center;color:#888;font-size:13px;";
  note.textContent = "waiting for data…";
  box.appendChild(head); box.appendChild(note);
  div.appendChild(box);
  div.__hm.placeholder = box;
}

function show(div) {
  loadPlotly().then(function () { draw(div); }, function (err) {
    div.textContent = "The chart could not be drawn: " + err.message;
  });
}
