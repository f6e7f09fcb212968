"""Server-rendered SVG charts: no JavaScript, no CDN, nothing to vendor.

Each chart is an SVG string built from numbers and escaped labels only, so it is
safe to mark safe in the template."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 180, 70, 24, 12


def bar_chart_svg(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    format_value,
    color: str = "#417690",
) -> SafeString:
    """Vertical bars, one per label (a day), negative values below the axis. The
    y-axis shows the largest magnitude through ``format_value`` (money in major
    units with its currency)."""
    top = max([0, *values])
    bottom = min([0, *values])
    span = (top - bottom) or 1
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(values), 1)
    bar_w = max(step * 0.7, 1)

    def y(value: int) -> float:
        return PAD_TOP + (top - value) / span * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
        'stroke="#999" stroke-width="1"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 10}" text-anchor="end" '
        f'font-size="10">{escape(format_value(top))}</text>',
    ]
    if bottom < 0:
        parts.append(
            f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" text-anchor="end" '
            f'font-size="10">{escape(format_value(bottom))}</text>'
        )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = PAD_LEFT + index * step + (step - bar_w) / 2
        y0, y1 = sorted((y(0), y(value)))
        parts.append(
            f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" '
            f'height="{max(y1 - y0, 0.5):.1f}" fill="{escape(color)}">'
            f"<title>{escape(label)}: {escape(format_value(value))}</title></rect>"
        )
    if labels:
        for index in sorted({0, len(labels) - 1}):
            x = PAD_LEFT + index * step + step / 2
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                f'font-size="10">{escape(labels[index])}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (numbers and escaped text only)
