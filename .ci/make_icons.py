#!/usr/bin/env python3
"""Draw auditapp's PWA icons: a solid black square with a white tick (same tick as static/favicon.svg).

Standard library only (zlib + struct PNG writer). Full-bleed square, tick inside the central 80 %
so the icons also work as "maskable". Usage: python3 .ci/make_icons.py  (writes auditapp/static/icons/)
"""
import math
import pathlib
import struct
import zlib

BG = (0x0B, 0x0C, 0x0C)
FG = (0xFF, 0xFF, 0xFF)
# favicon.svg geometry, in a 32-unit box
TICK = [(8.0, 16.5), (13.5, 22.0), (24.0, 10.5)]
STROKE = 3.5


def _dist_to_segment(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def render(size: int) -> bytes:
    k = size / 32
    pts = [(x * k, y * k) for x, y in TICK]
    half = STROKE * k / 2
    segs = list(zip(pts, pts[1:]))
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter type 0 (None)
        for x in range(size):
            cx, cy = x + 0.5, y + 0.5
            d = min(_dist_to_segment(cx, cy, *a, *b) for a, b in segs)
            cov = max(0.0, min(1.0, half - d + 0.5))  # 1-pixel anti-aliased edge, round caps and join
            row += bytes(round(bg + (fg - bg) * cov) for bg, fg in zip(BG, FG))
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(w: int, h: int, raw: bytes) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    out = pathlib.Path(__file__).resolve().parent.parent / "auditapp" / "static" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        path = out / f"icon-{size}.png"
        path.write_bytes(render(size))
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
