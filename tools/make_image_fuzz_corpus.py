#!/usr/bin/python3
"""Writes the seed corpus of fuzz/image_fuzzer.cpp into fuzz/image_corpus/ (committed; rerun only to
regenerate it):

    /usr/bin/python3 tools/make_image_fuzz_corpus.py

Small valid files covering the decoders' paths (JPEG: baseline 4:2:0, progressive 4:2:2, 4:4:4,
greyscale, CMYK; PNG: RGBA, palette with transparency, 1-bit and 16-bit grey, grey + alpha, 16-bit
RGB interlaced) and invalid ones next to the strict checks (a JPEG cut short with an end-of-image
marker appended, a frame header claiming 16000 x 16000, a PNG with a wrong CRC, PNG dimensions
whose product overflows). JPEGs come from
Pillow; PNGs are written by hand (zlib, struct) to reach layouts Pillow does not write.
"""

import io
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "fuzz" / "image_corpus"


def pattern(width, height, channels, maximum=255):
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 37 + y * 11 + 29 * c) % (maximum + 1) for c in range(channels)]
    return np.stack(planes, -1)


def jpeg(image, **options):
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(pixels, bit_depth, color_type, interlaced=False, palette=None, transparency=None):
    """pixels: H x W x C integers (palette indices for color_type 3), packed big-endian."""
    height, width = pixels.shape[:2]

    def scanlines(image):
        rows = b""
        for row in image:
            values = row.reshape(-1)
            if bit_depth == 16:
                data = b"".join(struct.pack(">H", int(v)) for v in values)
            elif bit_depth == 8:
                data = bytes(int(v) for v in values)
            else:
                bits = "".join(format(int(v), f"0{bit_depth}b") for v in values)
                bits += "0" * (-len(bits) % 8)
                data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
            rows += b"\x00" + data  # filter type 0
        return rows

    if interlaced:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = pixels[y0::dy, x0::dx]
            if sub.size:
                raw += scanlines(sub)
    else:
        raw = scanlines(pixels)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlaced else 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    if transparency is not None:
        out += chunk(b"tRNS", bytes(transparency))
    out += chunk(b"tEXt", b"Comment\x00ctnn fuzz seed")
    out += chunk(b"IDAT", zlib.compress(raw, 9))
    out += chunk(b"IEND", b"")
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(pattern(16, 16, 3).astype(np.uint8), "RGB")
    files = {
        "baseline_420.jpg": jpeg(rgb, quality=50, subsampling=2),
        "progressive_422.jpg": jpeg(rgb.resize((17, 9)), quality=75, subsampling=1, progressive=True),
        "444.jpg": jpeg(rgb.resize((9, 7)), quality=90, subsampling=0),
        "gray.jpg": jpeg(rgb.convert("L"), quality=60),
        "cmyk.jpg": jpeg(rgb.convert("CMYK").resize((8, 8)), quality=60),
        "rgba.png": png(pattern(7, 5, 4), 8, 6),
        "palette_transparency.png": png(pattern(9, 4, 1, 3), 2, 3, palette=range(12), transparency=[0, 128]),
        "gray_1bit.png": png(pattern(13, 3, 1, 1), 1, 0),
        "gray_16bit.png": png(pattern(5, 5, 1, 65535), 16, 0),
        "gray_alpha.png": png(pattern(6, 6, 2), 8, 4),
        "rgb16_interlaced.png": png(pattern(11, 10, 3, 65535), 16, 2, interlaced=True),
    }
    baseline = files["baseline_420.jpg"]
    files["cut_then_eoi.jpg"] = baseline[:-80] + b"\xff\xd9"  # inside the scan data
    sof = baseline.index(b"\xff\xc0")
    huge = bytearray(baseline)
    huge[sof + 5:sof + 9] = struct.pack(">HH", 16000, 16000)
    files["sof_claims_16000x16000.jpg"] = bytes(huge)
    bad_crc = bytearray(files["rgba.png"])
    bad_crc[8 + 8 + 13] ^= 0x01  # the first byte of IHDR's CRC
    files["bad_crc.png"] = bytes(bad_crc)
    # IHDR dimensions whose product overflows a signed 64-bit integer (found by the fuzzer).
    header = struct.pack(">IIBBBBB", 0xFAFFFFFF, 0xFFFFFF7F, 8, 6, 0, 0, 0)
    files["dimensions_overflow.png"] = files["rgba.png"][:8] + chunk(b"IHDR", header) + files["rgba.png"][33:]
    for name, data in files.items():
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
