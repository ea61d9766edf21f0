"""axe-core in a Playwright page: the accessibility check of the browser tests.

The vendored ``vendor/axe/axe.min.js`` (see its README) is evaluated in the page through
the DevTools protocol, which the page's Content-Security-Policy does not govern (a script
tag would be refused, as the policy allows no inline script).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE_PATH = Path(__file__).parent / "vendor" / "axe" / "axe.min.js"
# The impacts a page may not have: axe's two worst.
FAILING_IMPACTS = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on ``page`` as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source() + "\n;undefined")
    results = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations; }"
    )
    return [v for v in results if v.get("impact") in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and the first few elements it names, for an assertion message."""
    lines = []
    for violation in violations:
        targets = [node["target"] for node in violation["nodes"][:4]]
        summary = violation["nodes"][0].get("failureSummary", "") if violation["nodes"] else ""
        lines.append(f"{violation['id']} ({violation['impact']}): {targets} {summary[:300]}")
    return "\n".join(lines)
