"""Pure chart functions for HyperMask Explorer (plotly + numpy only; no streamlit, no torch), by kind:
curves.py (from event records), heatmaps.py, bars.py, projections.py, and one shared style (style.py).

Every function takes plain data (lists, dicts, numpy arrays, the typed events of `core.events`) and returns a
`plotly.graph_objects.Figure` with a title, axis titles, compact margins, the template `style.TEMPLATE`
(plotly_white for the trace types the app draws, Plotly's default once `style` is imported) and a fixed `layout.uirevision`, so a live refresh of the same chart keeps the user's zoom and
legend state (no flicker). The app shows them with `app.components.ui.chart`.

Vocabulary: task-incremental learning, task embedding, target network, hypernetwork,
mask sparsity, accuracy matrix R[i, j] (accuracy on task j after training task i; fractions in
[0, 1], None above the diagonal), average accuracy (ACC), backward transfer (BWT), forgetting,
forward transfer.
"""

from app.components.charts.bars import mask_histogram, metric_bars, neuron_usage
from app.components.charts.curves import compare_forgetting, forgetting_curves, loss_curves
from app.components.charts.heatmaps import (accuracy_matrix_heatmap, input_masks_grid, mask_overlap_heatmap,
                                            sparsity_heatmap)
from app.components.charts.projections import projection_scatter
from app.components.charts.style import PLOTLY_CONFIG, plotly_config, task_color

__all__ = [
    "PLOTLY_CONFIG", "plotly_config", "task_color", "forgetting_curves", "compare_forgetting",
    "loss_curves", "accuracy_matrix_heatmap", "mask_overlap_heatmap", "sparsity_heatmap", "neuron_usage",
    "input_masks_grid", "mask_histogram", "projection_scatter", "metric_bars",
]
