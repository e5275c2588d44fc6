'use strict';
// plotly.js with only what the in-place charts draw: scatter (in the core), bar and heatmap.
// Built by build.sh into app/static/plotly-hm.min.js; keep in step with plotly_frame.TRACE_TYPES.
var Plotly = require('plotly.js/lib/core');

Plotly.register([require('plotly.js/lib/bar'), require('plotly.js/lib/heatmap')]);

module.exports = Plotly;
