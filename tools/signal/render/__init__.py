"""Pictures of recordings: paper-style 12-lead printouts (PIL, fast) and analysis plots (matplotlib).

matplotlib is imported only inside the plotting functions, so rendering printouts stays light.
"""

from cardioagent.tools.signal.render.paper import PAPERS, PanelBox, RenderedEcg, render_12lead
from cardioagent.tools.signal.render.plots import plot_heart_rate_trend, plot_recording

__all__ = ["PAPERS", "PanelBox", "RenderedEcg", "plot_heart_rate_trend", "plot_recording", "render_12lead"]
