"""Shared helper of the layer modules: a legend block (swatches with labels) for a map layer.

Not a layer itself. Each planner layer module has a ``legend(...)`` built with it; the page
shows a layer's block while the layer is switched on.
"""

from __future__ import annotations

from collections.abc import Sequence

from dash import html


def legend_block(
    layer_name: str,
    rows: Sequence[tuple[str, str]],
    *,
    note: str | None = None,
    shape: str = "box",
) -> html.Div:
    """Legend of one layer: its name, one ``(colour, label)`` row per class, an optional note.

    Parameters
    ----------
    layer_name
        The overlay's name in the layer switcher; also stored in ``data-layer`` so the page
        can show the block only while that overlay is on.
    rows
        ``(CSS colour, label)`` pairs, in the order shown.
    note
        A line of text under the rows (e.g. what the layer cannot show).
    shape
        ``"box"`` (areas) or ``"line"`` (roads).
    """
    items = [
        html.Div(
            [html.Span(className=f"sl-key sl-key-{shape}", style={"background": colour}), label],
            className="sl-legend-row",
        )
        for colour, label in rows
    ]
    return html.Div(
        [html.Div(layer_name, className="sl-legend-title"), *items,
         *([html.Div(note, className="sl-legend-note")] if note else [])],
        className="sl-legend-block",
        **{"data-layer": layer_name},
    )  # fmt: skip
