#!/usr/bin/env python3
"""Strip GOV.UK branding (the GDS Transport typeface) from govuk-frontend's compiled CSS.

auditapp is a county-council service, not GOV.UK, so it must not use GDS Transport.
Usage: unbrand_css.py IN.css OUT.css   (see RECIPES.md §6)
"""
import re
import sys


def unbrand(css: str) -> str:
    css = re.sub(r"/\*![^*]*Margaret Calvert[^*]*\*/", "", css)  # the font's copyright banner
    css, n_face = re.subn(r"@font-face\{font-family:GDS Transport;[^}]*\}", "", css)
    css, n_fam = re.subn(r"font-family:GDS Transport,", "font-family:", css)
    assert n_face == 2 and n_fam > 0 and "GDS Transport" not in css, "govuk-frontend CSS changed shape"
    assert "/assets/fonts/" not in css, "font URLs remain after unbranding"
    print(f"unbrand_css: removed {n_face} @font-face rules, rewrote {n_fam} font-family declarations",
          file=sys.stderr)
    return css


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        css = f.read()
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(unbrand(css))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
