// Loads plotly.js once per page, into the page itself, from the app's static folder
// (app/static/plotly-hm.min.js, served by `server.enableStaticServing`): a classic script that
// defines window.Plotly. Shared by the chart renderer (plotly_live.js) and the page's early preload
// (plotly_frame.preload), which both get this text from plotly_frame.py.

const BUNDLE = "app/static/plotly-hm.min.js";

// One load per page (a classic script: it defines window.Plotly); a promise of Plotly.
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__hmPlotlyLoading) {
    window.__hmPlotlyLoading = new Promise(function (resolve, reject) {
      const s = document.createElement("script");
      s.src = new URL(BUNDLE, document.baseURI).href;
      s.async = true;
      s.onload = function () { window.Plotly ? resolve(window.Plotly) : reject(new Error("no Plotly in " + s.src)); };
      s.onerror = function () { window.__hmPlotlyLoading = null; reject(new Error("could not load " + s.src)); };
      document.head.appendChild(s);
    });
  }
  return window.__hmPlotlyLoading;
}
