"""Small inline-SVG charts: the frame, scales and labels every plot in the studio shares.

Plots are SVG strings rather than a plotting widget because live tabs redraw them every second and an
SVG renders the same in every browser and in a screenshot. Each chart keeps only what is its own (lines,
dots, legend); this module draws the empty state and the axes box.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


def empty_svg(css_class: str, width: int, height: int, message: str, *, x: int = 12) -> str:
    return (f'<svg class="{css_class}" width="{width}" height="{height}">'
            f'<text x="{x}" y="24" fill="#888">{html.escape(message)}</text></svg>')


@dataclass
class Axes:
    """A plot area inside ``width`` x ``height`` mapping data ranges [x0, x1] and [y0, y1] to pixels."""

    width: int
    height: int
    x0: float
    x1: float
    y0: float
    y1: float
    pad_l: int = 56
    pad_r: int = 12
    pad_t: int = 12
    pad_b: int = 28

    def __post_init__(self) -> None:
        # A single point or a flat line still needs a non-zero span to be drawn.
        self.x1 = self.x1 if self.x1 > self.x0 else self.x0 + 1
        self.y1 = self.y1 if self.y1 > self.y0 else self.y0 + 1e-6

    def sx(self, v: float) -> float:
        return self.pad_l + (v - self.x0) / (self.x1 - self.x0) * (self.width - self.pad_l - self.pad_r)

    def sy(self, v: float) -> float:
        return self.pad_t + (self.y1 - v) / (self.y1 - self.y0) * (self.height - self.pad_t - self.pad_b)

    def open(self, css_class: str) -> list[str]:
        """The opening tag and the plot-area frame; callers append their marks and ``</svg>``."""
        inner_w, inner_h = self.width - self.pad_l - self.pad_r, self.height - self.pad_t - self.pad_b
        return [f'<svg class="{css_class}" width="{self.width}" height="{self.height}" font-size="11" font-family="sans-serif">',
                f'<rect x="{self.pad_l}" y="{self.pad_t}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#ddd"/>']

    def y_labels(self, fmt: str) -> list[str]:
        """Bottom, middle and top values at the left edge."""
        return [f'<text x="{self.pad_l - 6}" y="{self.sy(v) + 4:.1f}" text-anchor="end" fill="#555">{v:{fmt}}</text>'
                for v in (self.y0, (self.y0 + self.y1) / 2, self.y1)]
